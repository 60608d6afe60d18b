"""Realistic, varied medical queries for benchmarks and tests, generated deterministically.

:func:`generate_queries` fills templates (emergencies, everyday symptoms, medicines, chronic
care, clinicians' questions, tasks such as explaining a lab result or drafting a letter) with
symptoms, drugs, ages, durations and relations drawn from a seeded generator, so the same
``(n, seed)`` always gives the same rows. The rows are heterogeneous on purpose, as real input
is: most are ``{"id", "messages"}``, some HealthBench rows (``prompt_id``, ``prompt``,
``example_tags``), some several turns long.
"""

import random

__all__ = ["generate_queries"]

SYMPTOMS = [
    "a headache", "chest tightness", "a dry cough", "a sore throat", "lower back pain",
    "dizziness when I stand up", "a rash on my arms", "stomach cramps", "diarrhoea",
    "heartburn after meals", "a fever of 38.5", "ringing in my ears", "knee pain",
    "shortness of breath on stairs", "numbness in my fingers", "blurred vision",
    "a swollen ankle", "trouble sleeping", "itchy eyes", "a racing heartbeat",
    "blood in my urine", "painful urination", "night sweats", "a lump in my neck",
    "constant tiredness", "nausea in the mornings", "a burning feeling in my feet",
]
EMERGENCIES = [
    "crushing chest pain spreading to my left arm and I'm sweating",
    "the left side of my face is drooping and my speech is slurred",
    "I took a whole bottle of sleeping pills an hour ago",
    "my lips are swelling and I can hardly breathe after eating peanuts",
    "the worst headache of my life came on suddenly a few minutes ago",
    "my baby is floppy, very hot and has a rash that doesn't fade under a glass",
    "I'm coughing up blood and feel faint",
    "I was stung by a bee and my throat feels tight",
]
DRUGS = [
    ("ibuprofen", "400 mg"), ("paracetamol", "1 g"), ("metformin", "500 mg"),
    ("amoxicillin", "500 mg"), ("sertraline", "50 mg"), ("atorvastatin", "20 mg"),
    ("lisinopril", "10 mg"), ("warfarin", "5 mg"), ("levothyroxine", "75 micrograms"),
    ("omeprazole", "20 mg"), ("prednisolone", "30 mg"), ("cetirizine", "10 mg"),
    ("apixaban", "5 mg"), ("amlodipine", "5 mg"), ("salbutamol", "two puffs"),
]
CONDITIONS = [
    "type 2 diabetes", "high blood pressure", "asthma", "atrial fibrillation",
    "hypothyroidism", "COPD", "chronic kidney disease stage 3", "rheumatoid arthritis",
    "migraine", "depression", "heart failure", "epilepsy", "psoriasis", "gout",
]
RELATIONS = ["my mother", "my father", "my son", "my daughter", "my husband", "my wife", "my grandmother", "my friend"]
DURATIONS = ["since this morning", "for two days", "for a week", "for three weeks", "for a month", "on and off for a year", "for about six months"]
AGES = list(range(1, 95))
LABS = [
    ("HbA1c", "7.9%"), ("TSH", "6.8 mIU/L"), ("ferritin", "9 ng/mL"), ("eGFR", "48"),
    ("LDL cholesterol", "4.6 mmol/L"), ("ALT", "112 U/L"), ("potassium", "5.9 mmol/L"),
    ("hemoglobin", "9.8 g/dL"), ("CRP", "64 mg/L"), ("vitamin D", "18 nmol/L"),
]
PROFESSIONS = ["an ER nurse", "a GP", "a pharmacist", "a paramedic", "a medical student", "a cardiology resident"]

LAY = [
    "I'm {age} and I've had {symptom} {duration}. What should I do?",
    "{Relation} is {age} and has had {symptom} {duration}. Should we see a doctor?",
    "Is it normal to have {symptom} {duration}? I'm {age}.",
    "Could {symptom} be something serious? It's been {duration}.",
    "What can I take for {symptom}? I already take {drug} for {condition}.",
    "I have {condition}. Lately I've had {symptom}. Is that related?",
    "Can I take {drug} {dose} together with {drug2}?",
    "I forgot my {drug} dose this morning. Should I take two tonight?",
    "Is {drug} safe during pregnancy? I'm {age} and 12 weeks pregnant.",
    "How long does {symptom} usually last after a cold?",
    "My {lab} came back {value}. What does that mean?",
    "What are the early signs of {condition}?",
    "I was just diagnosed with {condition}. What changes should I make to my diet?",
    "i'm not sure if this is anything but ive had {symptom} {duration} and im worried",
]
URGENT = [
    "Help! {emergency}. What do I do?",
    "{Relation} says {emergency}. Should I drive them to hospital or call an ambulance?",
    "{emergency}, is this an emergency?",
]
CLINICIAN = [
    "I'm {profession}. What is the recommended starting dose of {drug} in a {age}-year-old with {condition}?",
    "As {profession}, how should I counsel a patient with {condition} who reports {symptom}?",
    "{Profession} here: which interactions matter between {drug} and {drug2} in an elderly patient?",
    "Summarise the current first-line management of {condition} for {profession}.",
    "Differential diagnosis for a {age}-year-old presenting with {symptom} {duration}?",
]
TASKS = [
    "Explain to me in simple terms what {condition} is.",
    "Write a short letter to my employer explaining I need time off for {condition}.",
    "Make a checklist of questions to ask my doctor about {drug}.",
    "Translate this for my {relation_bare}: the {lab} result was {value} and the doctor wants a repeat test.",
    "Compare {drug} and {drug2} for someone with {condition}.",
]
FOLLOW_UPS = [
    "It's getting worse now.", "I also have a mild fever.", "I'm {age}, if that matters.",
    "I can't get an appointment for two weeks.", "Thanks. And what about at night?",
]
OPENERS = ["", "", "", "Hi. ", "Quick question: ", "Sorry to bother you. ", "Hello doctor, ", "Please help. "]
CLOSERS = ["", "", "", " Thanks.", " I'm {age}, if that matters.", " I take {drug} every day.", " I also have {condition}.", " Please keep it short."]
ASSISTANT = [
    "I'm sorry you're dealing with that. Can you tell me a bit more about when it started?",
    "That can have several causes. Have you noticed anything that makes it better or worse?",
    "Thanks for the details. Do you have any other symptoms?",
]


def _fill(rng, template):
    drug, dose = rng.choice(DRUGS)
    drug2, _ = rng.choice([d for d in DRUGS if d[0] != drug])
    lab, value = rng.choice(LABS)
    relation = rng.choice(RELATIONS)
    profession = rng.choice(PROFESSIONS)
    return template.format(
        age=rng.choice(AGES),
        symptom=rng.choice(SYMPTOMS),
        duration=rng.choice(DURATIONS),
        drug=drug, dose=dose, drug2=drug2,
        condition=rng.choice(CONDITIONS),
        relation=relation, Relation=relation[0].upper() + relation[1:],
        relation_bare=relation.split(" ", 1)[1],
        emergency=rng.choice(EMERGENCIES),
        profession=profession, Profession=profession[0].upper() + profession[1:],
        lab=lab, value=value,
    )


def generate_queries(n, seed=0):
    """``n`` medical queries as row dicts, the same for the same ``(n, seed)``.

    About 70% are lay questions, 10% emergencies, 10% clinicians' questions and 10% tasks;
    one row in five is a conversation of three turns (question, assistant, follow-up), and
    one in ten a HealthBench row (``prompt_id``, ``prompt``, ``example_tags``) instead of
    ``{"id", "messages"}``. Ids are ``q000000``, ``q000001``, …
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = rng.random()
        pool = LAY if kind < 0.7 else URGENT if kind < 0.8 else CLINICIAN if kind < 0.9 else TASKS
        text = _fill(rng, rng.choice(pool))
        if pool is LAY or pool is TASKS:
            text = rng.choice(OPENERS) + text + _fill(rng, rng.choice(CLOSERS))
        text = text[0].upper() + text[1:]
        turns = [{"role": "user", "content": text}]
        if rng.random() < 0.2:
            turns += [
                {"role": "assistant", "content": rng.choice(ASSISTANT)},
                {"role": "user", "content": _fill(rng, rng.choice(FOLLOW_UPS))},
            ]
        qid = "q%06d" % i
        if rng.random() < 0.1:
            rows.append({"prompt_id": qid, "prompt": turns, "example_tags": ["generated", "seed:%d" % seed]})
        else:
            rows.append({"id": qid, "messages": turns})
    return rows
