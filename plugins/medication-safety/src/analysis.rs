//! What the principle reads from a query: the medicines mentioned (by name, combination
//! product or class word), the kind of question, stated doses, special populations, and
//! the interactions among the mentioned drugs.

use clinalign_sdk::Query;
use clinalign_sdk::lookup::Lookup;
use clinalign_sdk::quantities::{self, Tok, Token};
use clinalign_sdk::text::Match;

use crate::drugs::{Drug, Lexicon, Target};
use crate::lexicon::{CLASS_WORDS, Class, MEDICINE_WORDS, RULES, Rule, Sel};
use crate::parse::{self, Amount, DoseStatement};

/// One medicine (or alcohol, food, supplement) the user mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct Mention {
    /// The generic name, or the class word's label ("a blood thinner").
    pub generic: String,
    pub class: Class,
    /// How criteria name it: "acetaminophen (Tylenol)", "oxycodone (in Percocet)".
    pub display: String,
    /// Byte offset in the normalised text.
    pub start: usize,
    /// Which product mention it came from (mentions of one combination product share it).
    pub product: usize,
    /// The combination product it came from, if any.
    pub combo: Option<String>,
    /// False for class words, which name no particular drug.
    pub specific: bool,
    pub rx: bool,
    pub nti: Option<&'static str>,
    pub teratogen: bool,
}

impl Mention {
    /// Whether it is a medicine (not alcohol, a food or a dietary supplement).
    pub fn is_medicine(&self) -> bool {
        !matches!(self.class, Class::Alcohol | Class::Food | Class::Supplement)
    }

    /// Whether it is on the side `sel` of an interaction rule (its class, or its generic).
    fn matches(&self, sel: &Sel) -> bool {
        match sel {
            Sel::C(c) => self.class == *c,
            Sel::G(g) => self.specific && self.generic == *g,
        }
    }
}

/// Words after a drug name that show it is something else ("lithium battery").
const NOT_FOLLOWED_BY: &[(&str, &[&str])] = &[
    ("lithium", &["battery", "batteries", "ion", "cell"]),
    ("insulin", &["resistance", "resistant", "level", "levels", "spike", "spikes", "sensitivity", "sensitive"]),
    ("calcium", &["level", "levels", "score", "deposits", "deposit", "channel", "scan"]),
    ("alcohol", &["wipe", "wipes", "swab", "swabs", "free", "gel", "rub"]),
];

const MISSED_DOSE: &[&str] = &[
    "missed dose", "missed a dose", "missed my", "miss a dose", "missed one", "missed it", "missed two",
    "forgot to take", "forgot my", "forgotten to take", "forgot a dose", "forgot one", "skipped a dose", "skipped my",
    "skip a dose", "double up", "double dose", "double the dose", "take two doses", "take 2 doses", "take both",
    "make up for",
];
const STOPPING: &[&str] = &[
    "stop taking", "stopped taking", "stopping", "quit taking", "come off", "coming off", "get off", "getting off",
    "wean off", "weaning off", "wean myself", "taper*", "cold turkey", "discontinu*", "go off", "going off",
    "went off",
];
const DOSE_QUESTION: &[&str] = &[
    "how much", "how many", "how often", "max dose", "maximum dose", "max daily", "maximum daily", "daily limit",
    "maximum amount", "max amount", "most i can take", "highest dose", "safe dose", "safe amount", "too much", "dose",
    "doses", "dosage", "dosing", "how long between", "how many hours", "another dose", "extra dose", "take more",
    "overdose", "at a time", "at once", "in one go", "per dose", "the most", "maximum", "max", "limit", "in a day",
    "per day", "in 24 hours",
];
const UNNAMED_MEDICINE: &[&str] = &[
    "my pill", "my pills", "my medication", "my medications", "my medicine", "my medicines", "my meds", "my tablets",
    "these pills", "this pill", "this medicine", "this medication", "the pills", "the tablets", "my prescription",
];
const TAKEN: &[&str] =
    &["took", "taken", "have had", "i've had", "had", "been taking", "swallowed", "gave him", "gave her", "given"];
const PREGNANT: &[&str] = &["pregnant", "pregnancy", "trimester", "expecting a baby", "weeks along"];
const PLANNING_PREGNANCY: &[&str] = &[
    "trying to conceive", "trying for a baby", "trying to get pregnant", "planning a pregnancy",
    "planning to get pregnant", "want to get pregnant",
];
const BREASTFEEDING: &[&str] = &[
    "breastfeed*", "breast feed*", "breastfed", "breast-fed", "nursing my", "nursing mother", "nursing mom",
    "breast milk", "breastmilk", "lactating", "pumping milk",
];
const CHILD_STRONG: &[&str] = &[
    "child", "children", "kid", "kids", "toddler", "toddlers", "infant", "infants", "newborn", "baby", "babies",
    "teen", "teens", "teenager", "teenage", "adolescent", "pediatric", "paediatric",
];
const CHILD_WEAK: &[&str] =
    &["my son", "my daughter", "our son", "our daughter", "my boy", "my girl", "grandson", "granddaughter"];
const OLDER: &[&str] = &[
    "elderly", "older adult", "older adults", "older person", "senior", "seniors", "my grandmother", "my grandfather",
    "my grandma", "my grandpa", "nursing home", "care home", "geriatric", "in his 80s", "in her 80s", "in his 70s",
    "in her 70s", "in his 90s", "in her 90s",
];
const KIDNEY: &[&str] = &[
    "kidney disease", "kidney failure", "kidney problems", "kidney problem", "kidney function", "kidney damage",
    "chronic kidney", "ckd", "renal", "dialysis", "one kidney", "kidney transplant", "egfr", "bad kidneys",
    "weak kidneys",
];
const LIVER: &[&str] = &[
    "liver disease", "liver problems", "liver problem", "liver damage", "liver failure", "cirrhosis", "hepatitis",
    "fatty liver", "bad liver", "liver function",
];
const PAIN_OR_FEVER: &[&str] = &[
    "fever", "temperature", "pain", "teething", "headache", "earache", "ear ache", "sore throat", "cold", "flu",
    "aches",
];

/// What the principle read from a query.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// One mention per generic (the first), in order of appearance.
    pub mentions: Vec<Mention>,
    /// Every product mention of acetaminophen: (display name, from a combination product).
    pub acetaminophen_sources: Vec<(String, bool)>,
    /// The text names a medicine only in general words ("my pills", "the dose").
    pub medicine_words: bool,
    pub dose_question: bool,
    pub missed_dose: bool,
    pub stopping: bool,
    /// The user says they have already taken the doses they state.
    pub already_taken: bool,
    pub doses: Vec<(DoseStatement, Option<String>)>,
    pub pregnant: bool,
    pub planning_pregnancy: bool,
    pub breastfeeding: bool,
    pub child: bool,
    pub infant: bool,
    pub older: bool,
    pub kidney: bool,
    pub liver: bool,
    pub weight_given: bool,
    pub pain_or_fever: bool,
    pub prescribed_word: bool,
    /// A contraceptive pill is involved (missed-pill rules differ from other medicines).
    pub contraceptive: bool,
    /// The user refers to a medicine without naming it ("my pills").
    pub unnamed_medicine: bool,
    /// A child under 12 (or a child of unstated age): doses go by weight. Teenagers
    /// (12 to 17) use adult label doses for most over-the-counter medicines.
    pub young_child: bool,
    /// Generics named in the sentences that ask about a dose, a missed dose, or stopping.
    pub dose_subjects: Vec<String>,
    pub missed_subjects: Vec<String>,
    pub stop_subjects: Vec<String>,
}

impl Analysis {
    /// Whether a medicine is involved at all.
    pub fn involves_medicine(&self) -> bool {
        self.medicine_words || self.mentions.iter().any(Mention::is_medicine)
    }

    /// Mentions that name a particular medicine.
    pub fn medicines(&self) -> impl Iterator<Item = &Mention> {
        self.mentions.iter().filter(|m| m.is_medicine())
    }

    /// The medicine mentions whose generic is in `generics` (empty when none are).
    pub(crate) fn subjects(&self, generics: &[String]) -> Vec<&Mention> {
        self.medicines().filter(|m| generics.contains(&m.generic)).collect()
    }

    /// The mention of the particular drug `g` (a generic), if named.
    pub(crate) fn has_generic(&self, g: &str) -> Option<&Mention> {
        self.mentions.iter().find(|m| m.specific && m.generic == g)
    }

    /// The mentions (drugs or class words) of any of `classes`.
    pub(crate) fn of_class(&self, classes: &[Class]) -> Vec<&Mention> {
        self.mentions.iter().filter(|m| classes.contains(&m.class)).collect()
    }
}

/// Whether a drug match counts: not negated, or negated only by a quantity phrase
/// ("no more than 2 Advil", "don't exceed 8 Tylenol").
fn drug_affirmed(text: &Lookup, m: &Match) -> bool {
    if !m.negated {
        return true;
    }
    let before = &text.normalized()[..m.start];
    let words: Vec<&str> = before.split_whitespace().rev().take(6).collect();
    words.iter().any(|w| matches!(w.trim_matches(|c: char| !c.is_alphanumeric()), "than" | "exceed" | "exceeding"))
}

/// Whether the word after the drug name `name` shows it is something else ("lithium battery").
fn followed_by_excluded(text: &Lookup, name: &str, m: &Match) -> bool {
    let Some((_, after)) = NOT_FOLLOWED_BY.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
        return false;
    };
    let next = text.normalized()[m.end..].split(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).unwrap_or("");
    after.contains(&next)
}

/// How criteria name a drug found by `name`: "sertraline", or "sertraline (Zoloft)" for a brand.
fn display(generic: &str, name: &str) -> String {
    if generic.eq_ignore_ascii_case(name) { generic.to_string() } else { format!("{generic} ({name})") }
}

/// Reads the user's turns of `query`.
pub fn analyze(query: &Query, lexicon: &Lexicon) -> Analysis {
    analyze_text(&query.user_text(), lexicon)
}

/// Reads `raw` (the user's words).
pub fn analyze_text(raw: &str, lexicon: &Lexicon) -> Analysis {
    let text = Lookup::new(raw);
    let mut a = Analysis::default();
    let named = record_mentions(&mut a, &text, lexicon);
    let r = Reading::new(&text, named);
    read_how_medicine_is_involved(&mut a, &r);
    read_dose_question(&mut a, &r);
    read_missed_dose(&mut a, &r);
    read_stopping(&mut a, &r);
    read_stated_doses(&mut a, &r);
    read_pregnancy_and_breastfeeding(&mut a, &r);
    // After pregnancy and breastfeeding, which decide who "the baby" is.
    read_age_groups(&mut a, &r);
    read_conditions(&mut a, &r);
    a
}

// ---- medicines named ----------------------------------------------------------------------

/// A drug name, combination product or class word found in the text.
struct ProductName {
    /// Byte offsets of the match in the normalised text.
    start: usize,
    end: usize,
    target: Target,
    /// The lexicon name that matched.
    name: String,
}

/// Every affirmed product name, left to right; where names overlap the longer one wins
/// ("Tylenol PM" over "Tylenol").
fn product_names(text: &Lookup, lexicon: &Lexicon) -> Vec<ProductName> {
    let mut found: Vec<ProductName> = lexicon
        .names_in(text)
        .into_iter()
        .filter(|(name, _, m)| drug_affirmed(text, m) && !followed_by_excluded(text, name, m))
        .map(|(name, target, m)| ProductName { start: m.start, end: m.end, target, name: name.to_string() })
        .collect();
    found.sort_by(|x, y| x.start.cmp(&y.start).then(y.end.cmp(&x.end)));
    let mut kept_end = 0;
    found.retain(|f| {
        let kept = f.start >= kept_end;
        if kept {
            kept_end = f.end;
        }
        kept
    });
    let first_start = found.first().map(|f| f.start);
    found.retain(|f| !(Some(f.start) > first_start && refers_back(text, f)));
    found
}

/// Whether "the pill", after another medicine is named, points back to that medicine ("I'm
/// on lisinopril and my ankles swell. Is that the pill?") instead of naming oral
/// contraception. It still names contraception where the words before it say so: "on the
/// pill", "taking the pill", "started the pill".
fn refers_back(text: &Lookup, f: &ProductName) -> bool {
    if !f.name.eq_ignore_ascii_case("the pill") {
        return false;
    }
    let before = text.normalized()[..f.start].trim_end();
    let last = before.rsplit(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).unwrap_or("");
    !matches!(
        last,
        "on" | "taking" | "take" | "takes" | "took" | "started" | "start" | "stopped" | "stop" | "using" | "use"
    )
}

/// The mentions one product name brings: its drug, each generic of a combination product, or
/// the class a class word stands for. `product` numbers the product names in the text.
fn product_mentions(lexicon: &Lexicon, found: ProductName, product: usize) -> Vec<Mention> {
    let ProductName { start, target, name, .. } = found;
    match target {
        Target::Drug(i) => {
            let d = &lexicon.drugs[i];
            let canonical = d.names.iter().find(|n| n.eq_ignore_ascii_case(&name)).cloned().unwrap_or(name);
            vec![Mention::of_drug(d, display(&d.generic, &canonical), start, product, None)]
        }
        Target::Combo(i) => {
            let (brand, parts) = &lexicon.combos[i];
            parts
                .iter()
                .map(|&p| {
                    let d = &lexicon.drugs[p];
                    Mention::of_drug(d, format!("{} (in {brand})", d.generic), start, product, Some(brand.clone()))
                })
                .collect()
        }
        Target::ClassWord(i) => {
            let (_, class, label) = CLASS_WORDS[i];
            vec![Mention::of_class_word(class, label, start, product)]
        }
    }
}

impl Mention {
    /// A mention of a particular drug, named `display` in criteria.
    fn of_drug(d: &Drug, display: String, start: usize, product: usize, combo: Option<String>) -> Mention {
        Mention {
            generic: d.generic.clone(),
            class: d.class,
            display,
            start,
            product,
            combo,
            specific: true,
            rx: d.rx,
            nti: d.nti,
            teratogen: d.teratogen,
        }
    }

    /// A mention of a class word ("blood thinners"): the class, labelled `label`, no particular drug.
    fn of_class_word(class: Class, label: &str, start: usize, product: usize) -> Mention {
        Mention {
            generic: label.to_string(),
            class,
            display: label.to_string(),
            start,
            product,
            combo: None,
            specific: false,
            rx: true,
            nti: None,
            teratogen: false,
        }
    }
}

/// Records the medicines named in `text` (`mentions`, `acetaminophen_sources`) and returns
/// every place a medicine is named: (byte offset, generic).
fn record_mentions(a: &mut Analysis, text: &Lookup, lexicon: &Lexicon) -> Vec<(usize, String)> {
    let mut named: Vec<(usize, String)> = Vec::new();
    for (i, found) in product_names(text, lexicon).into_iter().enumerate() {
        for m in product_mentions(lexicon, found, i + 1) {
            record_mention(a, m, &mut named);
        }
    }
    // The same product named twice ("Tylenol ... Tylenol") is one source.
    a.acetaminophen_sources = distinct(std::mem::take(&mut a.acetaminophen_sources));
    named
}

/// Records one mention: where a medicine is named, the product acetaminophen came in, and the
/// first mention of each generic.
fn record_mention(a: &mut Analysis, m: Mention, named: &mut Vec<(usize, String)>) {
    if m.is_medicine() {
        named.push((m.start, m.generic.clone()));
    }
    if m.generic == "acetaminophen" && m.specific {
        a.acetaminophen_sources.push((m.combo.clone().unwrap_or_else(|| m.display.clone()), m.combo.is_some()));
    }
    if !a.mentions.iter().any(|x| x.generic == m.generic) {
        a.mentions.push(m);
    }
}

/// `items` without repeats, first occurrences kept, in order.
fn distinct<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

// ---- the question and its context -----------------------------------------------------------

/// The user's words prepared for the cue detectors: term look-up, number tokens, amounts,
/// sentence breaks, and where each medicine is named.
struct Reading<'t> {
    text: &'t Lookup,
    tokens: Vec<Token>,
    amounts: Vec<Amount>,
    /// Byte offsets of the sentence breaks.
    breaks: Vec<usize>,
    /// Every place a medicine is named: (byte offset, generic).
    named: Vec<(usize, String)>,
}

impl<'t> Reading<'t> {
    /// Tokenises `text`; `named` is from [`record_mentions`].
    fn new(text: &'t Lookup, named: Vec<(usize, String)>) -> Reading<'t> {
        let tokens = quantities::tokenize(text.normalized());
        let amounts = parse::amounts(&tokens);
        let breaks = tokens.iter().filter(|t| t.kind == Tok::Break).map(|t| t.start).collect();
        Reading { text, tokens, amounts, breaks, named }
    }

    /// Whether one of `terms` occurs without negation ("pregnant", not "not pregnant").
    fn says(&self, terms: &[&str]) -> bool {
        terms.iter().any(|t| self.text.mentions(t))
    }

    /// Whether one of `terms` occurs at all, negated or not: the topic of the question
    /// ("I don't want to stop taking it" is about stopping).
    fn raises(&self, terms: &[&str]) -> bool {
        terms.iter().any(|t| self.text.contains(t))
    }

    /// The index of the sentence at byte offset `pos`.
    fn sentence_at(&self, pos: usize) -> usize {
        self.breaks.iter().filter(|&&b| b < pos).count()
    }

    /// The medicines a question is about: those named in a sentence with one of its `cues`
    /// or with a byte offset in `also`, in order of first appearance.
    fn subjects(&self, cues: &[&str], also: &[usize]) -> Vec<String> {
        let mut sentences: Vec<usize> =
            cues.iter().flat_map(|t| self.text.find_all(t)).map(|m| self.sentence_at(m.start)).collect();
        sentences.extend(also.iter().map(|&p| self.sentence_at(p)));
        let mut out: Vec<String> = Vec::new();
        for (start, g) in &self.named {
            if sentences.contains(&self.sentence_at(*start)) && !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }

    /// The medicines named just after a stop verb ("stop prednisone", "quit my Xanax").
    fn named_after_stop_verb(&self) -> Vec<String> {
        self.named
            .iter()
            .filter(|(start, _)| {
                self.text.normalized()[..*start]
                    .split_whitespace()
                    .rev()
                    .take(3)
                    .any(|w| matches!(w, "stop" | "stopped" | "quit" | "quitting" | "discontinue" | "ditch" | "drop"))
            })
            .map(|(_, g)| g.clone())
            .collect()
    }
}

/// How a medicine comes into it: general words ("my pills"), a prescription, doses already
/// taken, a contraceptive pill.
fn read_how_medicine_is_involved(a: &mut Analysis, r: &Reading) {
    a.medicine_words = r.says(MEDICINE_WORDS);
    a.unnamed_medicine = r.says(UNNAMED_MEDICINE);
    a.prescribed_word = r.raises(&["prescribed", "prescription", "my doctor put me on", "doctor gave me"]);
    a.already_taken = r.says(TAKEN);
    a.contraceptive =
        a.mentions.iter().any(|m| m.class == Class::Contraceptive) || r.raises(&["birth control", "contracepti*"]);
}

/// A dose question (a dose cue, or any dose amount), and the medicines it is about: those
/// named in a sentence with a cue or an amount.
fn read_dose_question(a: &mut Analysis, r: &Reading) {
    let amount_starts: Vec<usize> = r.amounts.iter().filter(|x| x.unit.is_dose()).map(|x| x.start).collect();
    a.dose_question = r.raises(DOSE_QUESTION) || !amount_starts.is_empty();
    a.dose_subjects = r.subjects(DOSE_QUESTION, &amount_starts);
}

/// A missed dose, and the medicines it is about.
fn read_missed_dose(a: &mut Analysis, r: &Reading) {
    a.missed_dose = r.raises(MISSED_DOSE);
    a.missed_subjects = r.subjects(MISSED_DOSE, &[]);
}

/// Stopping a medicine ("stop taking …", or a stop verb just before a medicine), and the
/// medicines it is about.
fn read_stopping(a: &mut Analysis, r: &Reading) {
    let after_stop_verb = r.named_after_stop_verb();
    a.stopping = r.raises(STOPPING) || !after_stop_verb.is_empty();
    let mut subjects = r.subjects(STOPPING, &[]);
    for g in after_stop_verb {
        if !subjects.contains(&g) {
            subjects.push(g);
        }
    }
    a.stop_subjects = subjects;
}

/// The stated doses, each with the drug it belongs to: the nearest specific medicine in the
/// same sentence, or the only one named; and whether a body weight is given.
fn read_stated_doses(a: &mut Analysis, r: &Reading) {
    a.weight_given = parse::states_weight(&r.tokens);
    let specific: Vec<&Mention> = a.mentions.iter().filter(|m| m.specific && m.is_medicine()).collect();
    let mut doses = Vec::new();
    for d in parse::dose_statements(&r.tokens) {
        let near = specific
            .iter()
            .filter(|m| r.sentence_at(m.start) == d.sentence)
            .min_by_key(|m| m.start.abs_diff(d.start))
            .or(if specific.len() == 1 { specific.first() } else { None })
            .map(|m| m.generic.clone());
        doses.push((d, near));
    }
    a.doses = doses;
}

// ---- special populations ------------------------------------------------------------------

/// Pregnancy (current or planned) and breastfeeding.
fn read_pregnancy_and_breastfeeding(a: &mut Analysis, r: &Reading) {
    a.pregnant = r.says(PREGNANT);
    a.planning_pregnancy = r.says(PLANNING_PREGNANCY);
    a.breastfeeding = r.says(BREASTFEEDING);
}

/// Children (and whether young, under 12, or an infant) and older adults, from stated ages
/// and words. In a pregnancy or while breastfeeding, "the baby" is not the patient.
fn read_age_groups(a: &mut Analysis, r: &Reading) {
    let ages = quantities::ages_in_days(&r.tokens);
    let baby_is_context = a.pregnant || a.breastfeeding;
    let strong_child =
        CHILD_STRONG.iter().filter(|t| !(baby_is_context && t.starts_with("bab"))).any(|t| r.text.mentions(t));
    let adult_age = ages.iter().any(|d| *d >= 18 * 365);
    a.child = ages.iter().any(|d| *d < 18 * 365) || strong_child || (!adult_age && r.says(CHILD_WEAK));
    let teen_age = ages.iter().any(|d| (12 * 365..18 * 365).contains(d));
    let teen_word = r.says(&["teen", "teens", "teenager", "teenage", "adolescent"]);
    a.young_child = a.child && (ages.iter().any(|d| *d < 12 * 365) || !(teen_age || teen_word));
    a.infant = ages.iter().any(|d| *d < 91) || (!baby_is_context && r.text.mentions("newborn"));
    a.older = ages.iter().any(|d| *d >= 65 * 365) || r.says(OLDER);
}

/// Kidney or liver disease, and pain or fever as the reason for the medicine.
fn read_conditions(a: &mut Analysis, r: &Reading) {
    a.kidney = r.says(KIDNEY);
    a.liver = r.says(LIVER);
    a.pain_or_fever = r.says(PAIN_OR_FEVER);
}

/// One detected interaction.
#[derive(Debug, Clone)]
pub struct Interaction {
    pub rule: &'static Rule,
    pub a: Mention,
    pub b: Mention,
}

/// The interactions among the mentioned drugs: at most one pair per rule, most severe first.
pub fn interactions(a: &Analysis) -> Vec<Interaction> {
    let mut out: Vec<Interaction> = Vec::new();
    for rule in RULES {
        let pair = a.mentions.iter().find_map(|x| {
            if !rule.a.iter().any(|s| x.matches(s)) {
                return None;
            }
            a.mentions
                .iter()
                .find(|y| {
                    y.generic != x.generic && y.product != x.product && rule.b.iter().any(|s| y.matches(s))
                    // A class word and a drug of that class are the same drug.
                    && !(x.class == y.class && (!x.specific || !y.specific))
                })
                .map(|y| (x, y))
        });
        if let Some((x, y)) = pair {
            // One finding per pair of drugs, from the first (most specific) rule.
            let same = |i: &Interaction| {
                (i.a.generic == x.generic && i.b.generic == y.generic)
                    || (i.a.generic == y.generic && i.b.generic == x.generic)
            };
            if !out.iter().any(same) {
                out.push(Interaction { rule, a: x.clone(), b: y.clone() });
            }
        }
    }
    out.sort_by_key(|i| std::cmp::Reverse(i.rule.severity));
    out
}
