"""The project's own small instruction (SFT) and preference (DPO) data sets, templated in code.

pocket-lm has read only 11 novels, so every task here has a short answer in a fixed format that a
4M-parameter model can learn in a few hundred steps: "It is happy." / "It is sad.", "Yes." / "No.",
"If you please, ...", "The opposite of ...", "A good title would be ...", "Dear ...", or a copy of a
sentence. Each format starts with a word that pocket-lm's tokenizer keeps whole at the start of a line
("It", "Yes", "If", "The", "A", "Dear"), so the first answer token names the format.

Every content list is split in two. The *train* half builds the SFT and DPO data; the *held-out*
half builds instructions that no fine-tuned model has seen (the 5x test and the page's presets use
them). Nothing here is random unless a seed is given, so the data sets are the same on every run.

Like real demonstration data, the SFT set is not perfectly tidy: a quarter of its answers ramble
("Well, let me think about that. ...") before answering. The preference pairs then prefer the
concise, correct, on-format answer, which is what DPO is meant to teach on top of SFT.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Split = Literal["train", "held_out"]


@dataclass(frozen=True)
class Example:
    task: str
    instruction: str
    answer: str        # the reference answer: concise and on format


@dataclass(frozen=True)
class PreferencePair:
    task: str
    instruction: str
    chosen: str
    rejected: str
    why: str           # what makes `chosen` better: "concise", "correct" or "on format"


# -- content, split into (train, held_out) ----------------------------------------------------------
SUBJECTS = (
    ["The old woman", "Her brother", "The young captain", "My aunt", "The farmer", "Little Jane", "The stranger",
     "Our neighbour", "The widow", "His mother", "The doctor", "The coachman"],
    ["The schoolmaster", "The sailor's wife", "Her cousin", "The gardener"],
)
HAPPY = (
    ["laughed with delight at the news", "smiled and clapped for joy", "danced for joy in the garden",
     "was overjoyed to see them again", "sang merrily all the way home", "thanked them with a happy heart",
     "could not stop smiling", "was delighted with the present", "laughed and played in the sunshine",
     "felt glad and full of hope"],
    ["laughed merrily at the joke", "was full of joy that morning", "beamed with pleasure at the letter"],
)
SAD = (
    ["wept bitterly by the fire", "sighed and turned away in grief", "was heartbroken at the loss",
     "sat alone in sorrow", "mourned for many days", "could not stop crying", "felt miserable and lonely",
     "read the letter through her tears", "grieved in silence all winter", "was sad and full of despair"],
    ["wept quietly at the window", "grieved for the lost child", "was wretched and unhappy"],
)
COMMANDS = (
    ["Shut the door.", "Bring me my hat.", "Give me the letter.", "Sit down.", "Fetch some water.",
     "Open the window.", "Tell me the truth.", "Go away.", "Pass the bread.", "Wait here.", "Read this aloud.",
     "Light the candle.", "Come with me.", "Hold my horse.", "Answer the question.", "Put out the fire.",
     "Call the doctor.", "Speak more slowly.", "Close the gate.", "Find my gloves."],
    ["Carry my bag.", "Ring the bell.", "Shut the window.", "Bring the tea.", "Stand up."],
)
OPPOSITES = (
    [("happy", "sad"), ("hot", "cold"), ("young", "old"), ("rich", "poor"), ("light", "dark"), ("early", "late"),
     ("good", "bad"), ("tall", "short"), ("strong", "weak"), ("fast", "slow"), ("open", "shut"), ("wet", "dry"),
     ("loud", "quiet"), ("wise", "foolish"), ("kind", "cruel"), ("day", "night"), ("love", "hate"),
     ("first", "last"), ("near", "far"), ("high", "low"), ("hard", "soft"), ("clean", "dirty")],
    [("full", "empty"), ("brave", "afraid"), ("thick", "thin"), ("true", "false"), ("friend", "enemy")],
)
OBJECTS = (
    ["ring", "key", "letter", "sword", "book", "map", "coin", "watch", "locket", "portrait", "box", "lamp",
     "bell", "cloak", "ship", "horse"],
    ["mirror", "violin", "compass", "basket", "candlestick"],
)
PLACES = ["in the attic", "by the river", "under the old oak", "in the garden", "on the road to town",
          "in a drawer", "near the church"]
NAMES = (
    ["my sister", "my brother", "Mr. Brown", "Mrs. Grey", "Miss Taylor", "my dear friend", "my mother",
     "Captain Moore", "Aunt Mary", "Dr. Hall", "my cousin", "Lady Anne", "Uncle John", "Mr. White",
     "Miss Green", "my father"],
    ["Mrs. Hill", "Sir Thomas", "my old teacher", "Miss Carter"],
)
ANIMALS = (["a horse", "a dog", "a cat", "a sheep", "a cow", "a fox", "a pig", "a goat", "a mouse", "a rabbit"],
           ["a deer", "a wolf", "a duck"])
FOODS = (["bread", "cheese", "an apple", "cake", "soup", "butter", "an egg", "a pie", "honey", "milk"],
         ["a pear", "a plum", "porridge"])
THINGS = (["a chair", "a table", "a carriage", "a candle", "a hat", "a door", "a window", "a stone", "a coat",
           "a spoon"],
          ["a bench", "a cart", "a bucket"])
SENTENCES = (
    ["The rain fell all night on the old house.", "She walked slowly down the lane.",
     "He took off his hat and bowed.", "The fire burned low in the grate.", "They left the town at dawn.",
     "A letter came for her in the morning.", "The ship sailed out of the harbour.",
     "The children ran across the field.", "He wrote to his sister every week.", "The garden was full of roses.",
     "She closed the book and looked up.", "The wind blew cold from the sea.", "Nobody spoke at dinner.",
     "The bells rang out over the village.", "He waited by the gate until noon.",
     "The candle had burned down to nothing.", "Snow lay deep upon the hills.", "She laughed and shook her head.",
     "The horses were tired after the long road.", "Her mother sat by the window sewing."],
    ["The moon rose over the dark water.", "He opened the door without a sound.",
     "The old clock struck twelve.", "They walked together to the church."],
)
RAMBLE = ["Well, let me think about that. ", "Well, that is an interesting question, and I have thought about it. ",
          "Well, I am not entirely sure, but I suppose ", "Well, there are many things one might say. "]
ASIDES = ["She looked at him and said nothing.", "It was a long time before anyone spoke again.",
          "The room was silent, and the fire burned low.", "I do not know what you mean, sir."]

TASKS = ("sentiment", "polite", "opposite", "title", "letter", "yesno", "repeat")


def _pick(pair: tuple, split: Split):
    return pair[0] if split == "train" else pair[1]


def _article_free(noun_phrase: str) -> str:
    return noun_phrase.split(" ", 1)[1] if noun_phrase.split(" ", 1)[0] in ("a", "an") else noun_phrase


# -- one generator per task: every (instruction, answer) the content allows --------------------------
def sentiment(split: Split) -> list[Example]:
    out = []
    for subject in _pick(SUBJECTS, split):
        for phrases, label in ((_pick(HAPPY, split), "happy"), (_pick(SAD, split), "sad")):
            for phrase in phrases:
                instruction = f"Is this sentence happy or sad?\n{subject} {phrase}."
                out.append(Example("sentiment", instruction, f"It is {label}."))
    return out


def polite(split: Split) -> list[Example]:
    return [Example("polite", f"Say this more politely:\n{c}", f"If you please, {c[0].lower()}{c[1:]}")
            for c in _pick(COMMANDS, split)]


def opposite(split: Split) -> list[Example]:
    out = []
    for a, b in _pick(OPPOSITES, split):
        for word, other in ((a, b), (b, a)):
            out.append(Example("opposite", f'What is the opposite of "{word}"?',
                               f'The opposite of "{word}" is "{other}".'))
    return out


def title(split: Split) -> list[Example]:
    out = []
    for i, obj in enumerate(_pick(OBJECTS, split)):
        for j in range(3):
            place = PLACES[(i + 2 * j) % len(PLACES)]
            subject = _pick(SUBJECTS, split)[(i + j) % len(_pick(SUBJECTS, split))]
            passage = f"{subject} found an old {obj} {place}, and kept it for many years."
            out.append(Example("title", f"Give this passage a title:\n{passage}",
                               f'A good title would be "The Old {obj.title()}".'))
    return out


def letter(split: Split) -> list[Example]:
    return [Example("letter", f"Write the opening of a letter to {name}.",
                    f"Dear {name[0].upper()}{name[1:]}, I hope this letter finds you well.")
            for name in _pick(NAMES, split)]


def yesno(split: Split) -> list[Example]:
    kinds = (("an animal", _pick(ANIMALS, split)), ("a kind of food", _pick(FOODS, split)),
             ("a thing in a house", _pick(THINGS, split)))
    out = []
    for kind, _members in kinds:
        for other_kind, others in kinds:
            for item in others:
                answer = "Yes." if kind == other_kind else "No."
                if kind == "a thing in a house" and other_kind != kind:
                    continue  # "is a horse a thing in a house?" is too vague to teach
                out.append(Example("yesno", f"Answer yes or no: is {item} {kind}?", answer))
    return out


def repeat(split: Split) -> list[Example]:
    return [Example("repeat", f"Repeat this sentence exactly:\n{s}", s) for s in _pick(SENTENCES, split)]


GENERATORS = {"sentiment": sentiment, "polite": polite, "opposite": opposite, "title": title, "letter": letter,
              "yesno": yesno, "repeat": repeat}
# How many examples of each task go into the SFT set (the rest of the train content feeds DPO).
SFT_PER_TASK = {"sentiment": 90, "polite": 20, "opposite": 44, "title": 40, "letter": 16, "yesno": 60, "repeat": 20}


def all_examples(split: Split) -> list[Example]:
    return [ex for task in TASKS for ex in GENERATORS[task](split)]


def ramble(answer: str, rng: random.Random) -> str:
    """The same answer wrapped in the kind of filler some demonstrations have."""
    lead = rng.choice(RAMBLE)
    body = answer[0].lower() + answer[1:] if lead.endswith("suppose ") else answer
    return f"{lead}{body}"


def sft_examples(seed: int = 0, ramble_fraction: float = 0.25) -> list[Example]:
    """The SFT set: a few hundred (instruction, answer) pairs; about a quarter of the answers ramble first."""
    rng = random.Random(seed)
    out = []
    for task in TASKS:
        pool = GENERATORS[task]("train")
        rng.shuffle(pool)
        for ex in pool[: SFT_PER_TASK[task]]:
            answer = ramble(ex.answer, rng) if rng.random() < ramble_fraction else ex.answer
            out.append(Example(task, ex.instruction, answer))
    rng.shuffle(out)
    return out


def worse_answer(ex: Example, rng: random.Random) -> tuple[str, str]:
    """A worse answer than the reference: the wrong label where there is one, else an off-format reply."""
    flips = {"It is happy.": "It is sad.", "It is sad.": "It is happy.", "Yes.": "No.", "No.": "Yes."}
    if ex.answer in flips:
        return flips[ex.answer], "correct"
    return rng.choice(ASIDES), "on format"


def preference_pairs(seed: int = 0) -> list[PreferencePair]:
    """One pair per train-content instruction: concise and on-format chosen; rambling, wrong or off-format rejected."""
    rng = random.Random(seed + 1)
    out = []
    for ex in all_examples("train"):
        if rng.random() < 0.6:
            rejected, why = ramble(ex.answer, rng), "concise"
        else:
            rejected, why = worse_answer(ex, rng)
        out.append(PreferencePair(ex.task, ex.instruction, ex.answer, rejected, why))
    rng.shuffle(out)
    return out


def held_out_examples() -> list[Example]:
    """Instructions built only from held-out content: neither SFT nor DPO saw them."""
    return all_examples("held_out")


def probe_example() -> Example:
    """The live fine-tune's probe: one held-out instruction."""
    return Example("sentiment", "Is this sentence happy or sad?\nThe gardener wept quietly at the window.",
                   "It is sad.")
