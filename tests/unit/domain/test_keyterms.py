"""What changed in an alert window: the words and topics over-represented against the entity's
own baseline (weighted log-odds with an informative Dirichlet prior, Monroe et al. 2008)."""

from __future__ import annotations

from domain.keyterms import (
    over_represented_terms,
    over_represented_topics,
    word_counts,
    words,
)


def test_words_leave_out_stop_words_placeholders_links_and_handles() -> None:
    assert words("RT @acme: I was CHARGED twice for my order!! https://t.co/x [EMAIL] 555") == [
        "charged", "twice", "order"]


def test_the_words_of_the_surge_rank_first_and_shared_words_do_not() -> None:
    baseline = ["my flight was delayed again", "flight delayed at the gate",
                "delayed flight and no update", "gate change for my flight"] * 10
    window = ["charged twice for my flight refund please",
              "refund my double charge now", "you charged my card twice",
              "still no refund for the double charge"] * 3
    corpus = baseline + window + ["weather is fine", "new app version out"] * 20
    terms = over_represented_terms(window, baseline, word_counts(corpus), top_n=5)
    assert terms[0]["term"] == "refund"  # in every complaint of the window
    assert {t["term"] for t in terms} == {"refund", "charged", "charge", "double", "twice"}
    assert all(t["z"] > 1.96 and t["window_count"] >= 3 for t in terms)
    assert "flight" not in [t["term"] for t in over_represented_terms(
        window, baseline, word_counts(corpus))]


def test_no_terms_when_nothing_stands_out() -> None:
    same = ["the app crashes on login", "login fails in the app"] * 10
    assert over_represented_terms(same, same, word_counts(same)) == []


def test_topics_over_represented_in_the_window() -> None:
    window = ["billing"] * 6 + ["delays"] * 2 + [None] * 2
    baseline = ["billing"] * 5 + ["delays"] * 40 + ["app"] * 5
    assert over_represented_topics(window, baseline) == [
        {"topic": "billing", "window_share": 0.6, "baseline_share": 0.1, "window_count": 6}]
