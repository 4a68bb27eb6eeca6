"""Prompt presets. The first two come from Jeremy Howard's "A Hacker's Guide to Language Models" (fast.ai)."""

NEXT_TOKEN_PRESETS: dict[str, str] = {
    "Panda facility (Hacker's Guide)": "When I arrived back at the panda breeding facility after the extraordinary "
                                       "rain of live frogs, I couldn't believe what I saw:",
    "The Birds (Hacker's Guide)": "The Birds is a 1963 American natural horror-thriller film produced and directed by Alfred",
    "A fixed phrase (Austen)": "It is a truth universally acknowledged, that a single man in possession of a good "
                               "fortune, must be in want of a",
    "Everyday English": "She opened the door and",
    "A letter": "My dear sister,",
    "A fact (pocket-lm can't know it)": "The capital of France is",
}
DEFAULT_PRESET = "Panda facility (Hacker's Guide)"
NEXT_TOKEN_PRESETS["Mitch's … (Hacker's Guide)"] = (
    "Mitch previously dated Annie but ended it due to Mitch's cold, overbearing mother Lydia, who dislikes any "
    "woman in Mitch's")  # the Wikipedia plot of The Birds, as read in the lecture; the article says "life"

# -- lecture examples that other pages offer as presets (pages read these; nothing is copied) ---------------
# Tokenizer: text-davinci-003's encoding (p50k_base) splits this into They, " are", " spl", "ashing".
THEY_ARE_SPLASHING = "They are splashing"
# Training stages: (prompt, expected answer). The FLAN question is lib.teaching.stages.FLAN_EXAMPLE.
CAREER_PROMPT = "List five ideas for how to regain enthusiasm for my career"
STAGE_PRESETS: dict[str, tuple[str, str]] = {
    # expected: the first token of a numbered list, as in the preferred answer of PREFERENCE_PAIR below
    "Regain enthusiasm (RLHF prompt, lecture)": (CAREER_PROMPT, "1."),
}

# Instruction data in the shape of OpenOrca (Mukherjee et al. 2023, "Orca"; the OpenOrca data set): a system
# message, a FLAN question and a worked answer. Written for this app in that format, not copied from the set.
OPENORCA_STYLE = {
    "system": "You are an AI assistant that helps people find information. Think step by step before answering.",
    "question": "Premise: \"A man is playing a guitar on a stage.\"\nHypothesis: \"A man is performing music.\"\n"
                "Does the premise entail the hypothesis?\nOptions:\n- yes\n- it is not possible to tell\n- no",
    "response": "Playing a guitar on a stage is a way of performing music, so if the premise is true the "
                "hypothesis is true too. The answer is: yes.",
}
# A preference pair for the lecture's RLHF prompt. Written for this app to show the shape of the data (one
# prompt, two answers, the one people preferred); not taken from any paper's data.
PREFERENCE_PAIR = {
    "prompt": CAREER_PROMPT,
    "chosen": "1. Revisit why you chose this work and list what still matters to you.\n2. Take on one small "
              "project that stretches you.\n3. Find a mentor, or mentor someone.\n4. Learn a new skill your role "
              "could use.\n5. Take a real break, then set one goal for the next three months.",
    "rejected": "Careers are hard. Maybe you should just quit and do something else.",
}

# Inside the model: a phrase every layer should agree on, a repeat for the copying heads, a fact pocket-lm lacks.
INSIDE_PRESETS: dict[str, str] = {
    "A fixed phrase (Austen)": NEXT_TOKEN_PRESETS["A fixed phrase (Austen)"],
    "A repeated phrase (copying heads)": "Mr. Darcy walked to the window. Miss Bennet smiled. Mr. Darcy walked to the",
    "A fact (pocket-lm can't know it)": NEXT_TOKEN_PRESETS["A fact (pocket-lm can't know it)"],
}
INSIDE_DEFAULT = "A fixed phrase (Austen)"

# Tokenizer: what splits in surprising ways (numbers, code, emoji, CJK, whitespace, special-token text).
TOKENIZER_PRESETS: dict[str, str] = {
    "they are splashing": " they are splashing",
    "Pandas and frogs (lecture)": ("When I arrived back at the panda breeding facility after the extraordinary rain of "
                                   "live frogs, I couldn't believe what I saw."),
    "Numbers and arithmetic": "127 + 677 = 804\n1234567 × 89 = 109876463\n3.14159, 2,048 and 1e-9\nIn 2023 GPT-4 cost $20/month.",
    "Code": ("def fib(n: int) -> int:\n    if n < 2:\n        return n\n\treturn fib(n - 1) + fib(n - 2)\n\n"
             "print([fib(i) for i in range(10)])  # 0 1 1 2 3 5 8 ..."),
    "A very long word": "Pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism",
    "Emoji": "I love 🦙 llamas! 👩‍👩‍👧 family, 👍🏽 thumbs up, flags 🇺🇦 🇯🇵, and ❤️",
    "Chinese, Japanese, Korean": "今天天气很好。 今日は天気がいいです。 오늘은 날씨가 좋아요.",
    "Whitespace runs": "a\tb\n\n\nc" + " " * 16 + "d\r\n    indented\n        more",
    "Special-token text": "Typed text <|endoftext|> is just text here, and so is [CLS] or <|im_start|>.",
    "GPT-3 tweet (lecture)": "Write a tweet talking about how great GPT-3 is.",
}
TOKENIZER_PRESETS["They are splashing (text-davinci-003 lecture)"] = THEY_ARE_SPLASHING  # try it under p50k_base
TOKENIZER_DEFAULT = "they are splashing"
