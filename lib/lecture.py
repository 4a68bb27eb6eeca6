"""The two seed lectures as data: each step is a deep link into an existing page plus what to say.

Lecture 1: Jeremy Howard, "A Hacker's Guide to Language Models" (fast.ai, 2023).
Lecture 2: "14.1 Modern Large Language Models" (a video course lesson on GPT-3 and its playground).
A step never copies a page: it names the page (its url_path) and the query parameters that page reads.
Which model a step uses is decided when it is shown, from what is on this machine (best_model, best_family).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from lib import page_table, presets, stages
from lib.catalog import CATALOG, DEFAULT_MODEL, CatalogEntry

HACKER = "A Hacker's Guide to Language Models (Jeremy Howard)"
MODERN = "14.1 Modern Large Language Models"
# The pages a step can open: url_path -> file, url_path -> title (lib/page_table.py).
PAGES = {row.url_path: row.file for row in page_table.PAGES if row.url_path}
PAGE_TITLES = {row.url_path: row.title for row in page_table.PAGES if row.url_path}

# needs: "none" (any model, or no model), "knowledge" (world knowledge: the biggest base model here),
# "family" (one model family at several training stages).
NEEDS = {"none": "Any model (or none)", "knowledge": "World knowledge: the biggest base model on this machine",
         "family": "One family at several training stages (base, instruction-tuned, preference-tuned)"}

BIRTHDAY = "What are some birthday party ideas for a five-year-old who loves Marvel and Disney?"
# The playground transcript of lecture 2, paraphrased: one text box holds question, answer and follow-up.
BIRTHDAY_TRANSCRIPT = (
    f"{BIRTHDAY}\n\n"
    "1. A superhero-themed party where the children dress up as their favourite heroes.\n"
    "2. A Disney movie party with a screening and popcorn.\n"
    "3. A Marvel-themed party with a Marvel-inspired cake and decorations.\n"
    "4. A combined Marvel and Disney party with decorations and activities.\n\n"
    "Can you tell me more about the third option?")
TWEET = "Write a tweet talking about how great GPT-3 is."


@dataclass(frozen=True)
class Step:
    id: str                              # the ?step= value
    lecture: str
    title: str
    page: str                            # url_path of an existing page
    params: tuple[tuple[str, str], ...]  # the query parameters that page reads
    say: str                             # one or two sentences for the lecturer
    notice: str                          # the point to notice on screen
    needs: str = "none"                  # a key of NEEDS
    bundled: str = ""                    # with only the bundled model: what it shows, what a larger one would
    example: str = ""                    # "openorca" or "preference": a data example shown beside the step


def _p(**params: str) -> tuple[tuple[str, str], ...]:
    return tuple(params.items())


PANDA = presets.NEXT_TOKEN_PRESETS["Panda facility (Hacker's Guide)"]
BIRDS = presets.NEXT_TOKEN_PRESETS["The Birds (Hacker's Guide)"]
MITCH = presets.NEXT_TOKEN_PRESETS["Mitch's … (Hacker's Guide)"]
FLAN_Q, FLAN_A = stages.FLAN_EXAMPLE
NO_FACTS = ("The bundled pocket-lm learned from 11 novels only, so it does not know films or directors: its top "
            "tokens here are a 19th-century-novel guess. ")

STEPS: tuple[Step, ...] = (
    Step("language-model", HACKER, "A language model predicts the next token", "next-token",
         _p(prompt=PANDA, n="10", mode="greedy", tokens="30"),
         "A language model gives every possible next token a probability. Here is the lecture's panda prompt.",
         "Look at the bars: several continuations are plausible, each with its own probability. In the lecture, "
         "text-davinci-003 put about 20% on “happily” after “The pandas were”.",
         "knowledge",
         "pocket-lm shows real probabilities, but of a novel-reader: it has never read about pandas or breeding "
         "facilities. A model trained on web text gives continuations about pandas and frogs instead."),
    Step("greedy-vs-sampled", HACKER, "Greedy or sampled: the same model, different text", "next-token",
         _p(prompt=PANDA, n="10", mode="sample", tokens="30", temperature="1.0", seed="1"),
         "Greedy decoding always takes the most likely token; sampling draws from the distribution, so each run "
         "can differ. Change the seed to draw again.",
         "The distribution is the same as on the previous step; only the way we pick from it changed.",
         "knowledge",
         "With pocket-lm the text is novel-like English; the point about greedy versus sampling holds for any model."),
    Step("tokens", HACKER, "Tokens, not words: “They are splashing”", "tokenizer",
         _p(text=presets.THEY_ARE_SPLASHING, tokenizers="p50k_base", view="Single view", single="p50k_base",
            ids_view="0"),
         "The model never sees words, only numbers: pieces of text from a fixed vocabulary. This is "
         "text-davinci-003's tokenizer, p50k_base, on the lecture's example.",
         "Four tokens: “They”, “ are”, “ spl”, “ashing”. The space belongs to the start of the next token, and "
         "“splashing” is cut into two pieces. Hover a chip for its id; the next step shows the ids."),
    Step("decode", HACKER, "And back: ids to text", "tokenizer",
         _p(view="Decode", decode_with="p50k_base", ids="2990, 389, 4328, 2140"),
         "Decoding looks each number up in the same vocabulary and glues the pieces back together.",
         "2990, 389, 4328, 2140: the four ids give back exactly “They are splashing”, piece by piece."),
    Step("pretraining", HACKER, "ULMFiT step 1: language-model pretraining", "training-stages",
         _p(stage="pretrain"),
         "ULMFiT (2018) has three steps, and ChatGPT-style models still follow them. Step one: predict the next "
         "word of a huge amount of ordinary text, such as Wikipedia.",
         "There are no instructions and no answers in this data: every token is a prediction target."),
    Step("hitchcock", HACKER, "Pretraining teaches facts: “…directed by Alfred”", "next-token",
         _p(prompt=BIRDS, n="10", mode="greedy", tokens="10"),
         "From the Wikipedia article on The Birds: to guess the next word, the model has to know who directed it.",
         "Where does “ Hitchcock” rank? Predicting the next word well forces the model to store facts about the world.",
         "knowledge",
         NO_FACTS + "In the lecture the answer is Hitchcock; prepare GPT-2 or SmolLM2 (below) to see whether a real "
                    "web-trained model puts “ Hitchcock” on top."),
    Step("mitch-life", HACKER, "…and reading: “any woman in Mitch's …”", "next-token",
         _p(prompt=MITCH, n="10", mode="greedy", tokens="10"),
         "Later in the same article: “…who dislikes any woman in Mitch's …”. Closet? House? The article says life.",
         "Filling this in needs an understanding of the story, not only grammar: that is why next-word prediction "
         "builds rich internal knowledge.",
         "knowledge",
         NO_FACTS + "A larger web-trained model is the one to show here; check where “ life” ranks."),
    Step("instruction-tuning", HACKER, "ULMFiT step 2, today: instruction tuning", "training-stages",
         _p(stage="sft", prompt=FLAN_Q, expected=FLAN_A),
         "Step two is still next-token prediction, but on questions with answers, from data sets like FLAN and "
         "OpenOrca. This is FLAN's Iron Age question from the lecture.",
         "Same objective, different data: the model learns to answer instead of to continue a document.",
         "family", example="openorca"),
    Step("preference-tuning", HACKER, "ULMFiT step 3, today: preference tuning (RLHF, DPO)", "training-stages",
         _p(stage="preference", prompt=presets.CAREER_PROMPT, expected="1."),
         "Step three shows two answers to one prompt and learns which one people preferred, as in the RLHF paper's "
         "prompt “List five ideas for how to regain enthusiasm for my career”.",
         "The data is a pair of answers and a choice, not a single right answer.",
         "family", example="preference"),
    Step("three-stages", HACKER, "Base, instruction-tuned, preference-tuned: the same prompt", "training-stages",
         _p(stage="preference", prompt=presets.CAREER_PROMPT, expected="1.", tokens="40"),
         "The same prompt through one family's checkpoints, stage by stage.",
         "The base model continues the text as if it were a document; the tuned ones answer the request.",
         "family",
         "With only the bundled pocket-lm family (4.2M parameters, trained on novels and a small instruction "
         "set) the answers are short and simple; a hub family such as SmolLM2 shows the same shift on real models."),
    Step("scale", MODERN, "Large: BERT's 110 million, GPT-3's 175 billion", "model-scale",
         _p(models="bert-base,gpt2-small,gpt3-175b", view="Scale"),
         "BERT-base (2018) has about 110 million parameters; GPT-3 has 175 billion, about 1,600 times more.",
         "The axis is logarithmic: each step is ten times more parameters."),
    Step("bigger-not-better", MODERN, "Bigger is not better for every task", "model-scale",
         _p(models="bert-base,gpt3-175b", view="BERT vs GPT"),
         "Size is not the only factor: on tasks like sequence classification, a fine-tuned BERT can match or beat a "
         "much larger model.",
         "Compare the published results side by side, with their sources."),
    Step("playground", MODERN, "The playground's knobs: temperature and top-p", "sampling",
         _p(prompt=PANDA, temperature="0.7", top_p="0.9"),
         "Playgrounds expose the same knobs as GPT-2: temperature flattens or sharpens the distribution, top-p "
         "keeps only the most likely tokens that add up to p.",
         "Move the temperature: the model is not run again; the same scores are reshaped."),
    Step("tweet", MODERN, "“Write a tweet talking about how great GPT-3 is.”", "training-stages",
         _p(stage="sft", prompt=TWEET, expected="", tokens="40"),
         "Not a classic NLP task at all: an everyday request. A base model treats it as text to continue; an "
         "instruction-tuned model writes the tweet.",
         "Compare the base checkpoint with the tuned ones on the same request.",
         "family",
         "The bundled family is tiny and has never seen a tweet; a hub instruct model shows the lecture's effect."),
    Step("chat-format", MODERN, "The conversation is the prompt: chat format", "tokenizer",
         _p(view="Chat format", user=BIRTHDAY, assistant="", system="You are a helpful assistant."),
         "A chat model sees one token sequence: the template wraps each turn in special tokens, and the model "
         "writes the assistant's turn by predicting the tokens that follow.",
         "The dark chips are the special tokens that mark where each turn starts and ends."),
    Step("follow-up", MODERN, "The follow-up: “Can you tell me more about the third option?”", "tokenizer",
         _p(text=BIRTHDAY_TRANSCRIPT, tokenizers="p50k_base", view="Single view", single="p50k_base", ids_view="0"),
         "In the playground the question, the answer and the follow-up sit in one text box. The model does not "
         "remember: it reads all of it again as one prompt.",
         "The whole conversation is one token sequence, and its length is what the model reads each turn."),
)
BY_ID = {s.id: s for s in STEPS}


def index_of(step_id: str | None) -> int:
    """Position of a ?step= value: an id, or a 1-based number; unknown values give the first step."""
    if step_id is None:
        return 0
    step_id = step_id.strip()
    if step_id.isdigit():
        return min(max(int(step_id), 1), len(STEPS)) - 1
    ids = [s.id for s in STEPS]
    return ids.index(step_id) if step_id in ids else 0


# -- which model a step uses -----------------------------------------------------------------------------


def _size(entry: CatalogEntry) -> float:
    match = re.fullmatch(r"([\d.]+)([MB])", entry.size)
    return float(match[1]) * (1e9 if match[2] == "B" else 1e6) if match else 0.0


def best_model(available: set[str]) -> str:
    """The largest catalogued hub base model on this machine (larger ones know more), else the bundled one."""
    bases = [e for e in CATALOG if e.stage == "base" and e.id in available and e.family != "pocket-lm"]
    return max(bases, key=_size).id if bases else DEFAULT_MODEL


def best_family(available: set[str]) -> str:
    """The largest hub family whose every checkpoint is on this machine, else the bundled pocket-lm family."""
    complete = [f for f in stages.FAMILIES.values() if f.backend == "hf" and f.key != stages.DEFAULT_FAMILY
                and all(c.model_id in available for c in f.checkpoints)]
    sizes = {e.id: _size(e) for e in CATALOG}
    if not complete:
        return stages.DEFAULT_FAMILY
    return max(complete, key=lambda f: sizes.get(f.checkpoints[0].model_id, 0.0)).key


def step_params(step: Step, available: set[str]) -> dict[str, str]:
    """The step's query parameters, with the best model or family on this machine filled in."""
    params = dict(step.params)
    if step.needs == "knowledge" and step.page in ("next-token", "sampling"):
        params["model"] = best_model(available)
    elif step.needs == "family":
        params["family"] = best_family(available)
    return params


def uses_bundled(step: Step, params: dict[str, str]) -> bool:
    """Whether the step needs more than the bundled model can give, and only the bundled one is here."""
    return (step.needs == "knowledge" and params.get("model") == DEFAULT_MODEL) or (
        step.needs == "family" and params.get("family") == stages.DEFAULT_FAMILY)


def link(page: str, params: dict[str, str]) -> str:
    """Relative link (page plus query string), as the page reads it."""
    return f"{page}?{urlencode(params, quote_via=quote)}"
