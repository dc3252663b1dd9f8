"""The sentiment models: fast encoder, fine-tuned MiniLM, TF-IDF baseline; training and
scoring."""
