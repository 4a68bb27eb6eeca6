"""The round export: one row per guess, no session ids, spreadsheet formulas neutralised."""

import csv
import io

from components.game import guesses_csv
from lib.classroom.store import Guess, Round


def test_csv_rows_and_formula_guard():
    r = Round("abc", "hash", "Once upon a", "time", "pocket-lm", "revealed", 0.0, 60.0)
    guesses = [Guess("secret-session-1", "time", "time", 1.0), Guess("secret-session-2", "=HYPERLINK(1)", "=hyperlink(1", 2.0)]
    data = guesses_csv(r, guesses, lambda w: 0.5 if w == "time" else 0.0)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == ["round", "prompt", "true_word", "n", "guess", "word", "model_prob", "submitted_unix"]
    assert rows[1] == ["abc", "Once upon a", "time", "1", "time", "time", "0.5", "1.000"]
    assert rows[2][4] == "'=HYPERLINK(1)" and rows[2][6] == "0"
    assert b"secret-session" not in data
