"""The sequential recommender (SASRec), its baselines, training, evaluation and artifacts."""
