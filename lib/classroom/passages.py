"""Passages for the guessing game whose true next word is known (public-domain novels in the corpus)."""

GAME_PASSAGES: dict[str, tuple[str, str]] = {
    "Pride and Prejudice (Austen)": ("It is a truth universally acknowledged, that a single man in possession of a "
                                     "good fortune, must be in want of a", "wife"),
    "Emma (Austen)": ("Emma Woodhouse, handsome, clever, and", "rich"),
    "The Great Gatsby (Fitzgerald)": ("In my younger and more vulnerable years my father gave me some", "advice"),
    "Little Women (Alcott)": ("\u201cChristmas won\u2019t be Christmas without any presents,\u201d grumbled", "Jo"),
}
