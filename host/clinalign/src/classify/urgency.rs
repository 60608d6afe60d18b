//! Urgency, the dimension where a wrong label can hurt someone.
//!
//! **The costs are asymmetric, and the rules say so.** Calling an emergency routine gives it a
//! rubric without the escalation principles: the reward then favours a calm, routine answer to
//! someone who needs emergency care now. Calling a routine question urgent costs a rubric that
//! also asks for safety-netting. So every rule below that can only raise urgency fires on weaker
//! evidence than a rule that would lower it, and when two readings compete the more urgent one
//! wins (prefer over-triage to under-triage, as triage protocols do).
//!
//! The rules, in the order they are tried (the first that fires decides):
//!
//! 1. A red-flag presentation (the shared lexicon of [`clinalign_core::red_flags`]) in
//!    someone's own situation is emergent.
//! 2. A clinician describing a deteriorating patient is emergent: ECG changes of ischaemia or a
//!    dangerous rhythm, shock (low blood pressure, poor perfusion, vasopressors), falling oxygen
//!    saturation, or a serious problem worsening despite first-line treatment.
//! 3. A serious problem where the site cannot give the care it needs (a remote clinic, no
//!    ICU or scanner, a transfer being weighed) is emergent: the decision is about getting the
//!    patient to definitive care.
//! 4. The recurrence of a known emergency ("I had a stroke before and now my hand is weak") is
//!    emergent: the history turns a mild symptom into a red flag.
//! 5. Chest pain or palpitations after a stimulant (cocaine, amphetamines) is emergent, even
//!    when asked as a general question: it is the person's own exposure.
//! 6. A symptom that can turn serious getting rapidly worse (over minutes or hours, or near
//!    fainting that stops the person standing) is emergent.
//! 7. A red flag in a general question ("what are the signs of a stroke?") is not an emergency.
//! 8. Symptoms that can turn serious, in someone's situation, are conditionally emergent.
//! 9. Someone weighing emergency care for a current situation (the ER, an ambulance, "right
//!    now") is conditionally emergent: the answer must help them triage.
//! 10. Everything else is non-emergent.

use std::fmt;

use clinalign_core::lookup::Lookup;
use clinalign_core::quantities::{Tok, Token};
use clinalign_core::red_flags::Finding;

/// Situations that may be emergencies depending on details.
pub(super) const CAN_TURN_SERIOUS: &[&str] = &[
    "fever", "high fever", "temperature of", "shortness of breath", "short of breath", "breathless", "wheez*", "dizz*",
    "faint*", "bleeding", "pregnan*", "head injury", "hit my head", "hit his head", "hit her head", "severe pain",
    "severe", "getting worse", "worsening", "worse", "dehydrat*", "infant", "newborn", "confus*", "rash", "swelling",
    "swollen", "palpitation*", "racing heart", "blood in", "vomiting", "vomited", "abdominal pain", "stomach pain",
    "belly pain", "allergic reaction", "hives", "burn", "burned", "cut", "wound", "infection", "infected", "pus",
    "red streak*", "chest", "numb*", "blurred vision", "vision loss", "collapse*", "passed out", "pass out",
    "spinning", "vertigo",
];

/// Milder symptoms that matter when the history holds an emergency (rule 4).
const SYMPTOM: &[&str] = &[
    "pain", "ache*", "aching", "hurts", "hurting", "weak*", "tingl*", "clumsy", "heavy", "heaviness", "tight*",
    "pressure", "headache", "short of breath", "breathless", "swell*", "swollen", "blurr*", "dizz*", "numb*", "slur*",
    "droop*", "itch*", "rash", "lips", "throat", "cough*", "racing", "pounding", "flutter*", "symptom*",
    "same feeling", "same thing",
];

/// ECG changes of ischaemia, and dangerous rhythms.
const ECG_CHANGE: &[&str] = &[
    "st elevation", "st-elevation", "st elevations", "stemi", "st depression", "st depressions", "st-depression",
    "new lbbb", "new left bundle", "ecg changes", "ekg changes", "dynamic changes", "ventricular tachycardia", "vtach",
    "v-tach", "vt", "vfib", "v-fib", "ventricular fibrillation", "complete heart block", "third degree heart block",
    "third-degree", "wide complex", "torsades", "peaked t", "hyperacute",
];

/// Shock and poor perfusion.
const SHOCK: &[&str] = &[
    "shock", "hypotensive", "hypotension", "mottled", "mottling", "cold extremities", "cold peripheries", "cap refill",
    "capillary refill", "lactate", "pressor*", "vasopressor*", "norepinephrine", "noradrenaline", "levophed",
    "not perfusing", "poor perfusion", "altered mental status", "obtunded",
];

/// Falling oxygenation.
const DESATURATION: &[&str] = &[
    "desaturat*", "sats dropping", "sats are dropping", "sats falling", "saturation is falling", "saturation falling",
    "saturation dropping", "oxygen is dropping", "o2 dropping", "needing more oxygen", "increasing oxygen", "cyanosed",
    "cyanotic", "going blue", "turning blue",
];

/// Worsening despite the treatment that should have worked.
const DESPITE_TREATMENT: &[&str] = &[
    "despite", "not responding to", "no response to", "unresponsive to", "refractory", "not improving",
    "no improvement", "hasn't improved", "has not improved", "not getting better", "still getting worse",
    "keeps getting worse", "deteriorat*", "worsening", "getting worse", "failed", "after two doses", "after 2 doses",
    "after three doses", "second dose",
];

/// A site that cannot give the care a serious problem needs.
const SITE_LIMITS: &[&str] = &[
    "remote clinic", "rural clinic", "rural hospital", "small clinic", "small hospital", "remote area",
    "remote location", "no icu", "no cath lab", "no ct", "no scanner", "no surgeon", "no specialist", "no neurologist",
    "no cardiologist", "can't manage", "cannot manage", "transfer", "limited resources", "resource-limited",
    "low-resource", "no ambulance", "nearest hospital", "hours away", "hours from",
];

/// A known emergency in the person's history.
const PRIOR_EMERGENCY: &[&str] = &[
    "had a stroke", "had a heart attack", "had a tia", "had a mini stroke", "had a mini-stroke", "had a clot",
    "had a blood clot", "had blood clots", "had a pe", "had a dvt", "had anaphylaxis", "had an anaphylactic",
    "had sepsis", "had meningitis", "had an ectopic", "had a seizure", "had seizures", "had dka", "had a bleed",
    "had a brain bleed", "history of stroke", "history of heart attack", "history of mi", "history of tia",
    "history of dvt", "history of pe", "history of blood clots", "history of anaphylaxis", "history of seizures",
    "previous stroke", "prior stroke", "previous heart attack", "prior heart attack", "previous mi", "prior mi",
    "previous clot", "previous dvt", "previous pe", "last heart attack", "last stroke", "my stent", "stents",
    "bypass surgery", "after my stroke", "after my heart attack", "since my stroke", "since my heart attack",
];

/// The symptom is happening now, or again.
const NOW_OR_AGAIN: &[&str] = &[
    "now", "again", "today", "tonight", "this morning", "this evening", "just", "started", "starting", "since",
    "same symptoms", "like last time", "like before", "like it did", "came back", "is back", "returned",
];

/// Stimulants whose use makes chest symptoms an emergency.
const STIMULANT: &[&str] = &[
    "cocaine", "coke", "crack", "meth", "methamphetamine", "amphetamine*", "speed", "mdma", "ecstasy", "molly",
    "snort*", "line of",
];

/// Chest symptoms after a stimulant.
const CHEST_SYMPTOM: &[&str] = &[
    "chest pain", "chest hurts", "chest tight*", "tight chest", "chest pressure", "pain in my chest", "palpitation*",
    "heart racing", "heart is racing", "racing heart", "heart pounding", "pounding heart",
];

/// Getting worse.
const WORSENING: &[&str] =
    &["worse", "worsening", "getting worse", "way worse", "much worse", "deteriorat*", "spreading", "more and more"];

/// Over minutes or hours: a rapid change.
const RAPID: &[&str] = &[
    "minutes", "minute", "last hour", "an hour", "past hour", "few hours", "hours", "right now", "just now",
    "suddenly", "sudden*", "all of a sudden", "tonight", "this morning", "since this morning", "twice", "again",
];

/// Near fainting, or unable to stand.
const CANNOT_STAND: &[&str] = &[
    "almost fainted", "nearly fainted", "almost passed out", "nearly passed out", "about to pass out",
    "hold onto the walls", "hold on to the walls", "can't stand", "cannot stand", "can't walk", "cannot walk",
    "can't stay upright", "keep falling", "room spins", "room is spinning",
];

/// Weighing emergency care for the current situation.
const EMERGENCY_CARE_QUESTION: &[&str] = &[
    "the er", "to er", "an er", "emergency room", "emergency department", "the ed", "a&e", "urgent care", "call 911",
    "call 999", "call 112", "ambulance", "rush to", "right now", "go to the hospital", "take her to the hospital",
    "take him to the hospital", "go in now", "get checked out right now", "an emergency", "emergency issue",
];

/// What the urgency rules see.
pub(super) struct UrgencyInput<'a> {
    /// Every user turn.
    pub text: &'a Lookup,
    pub tokens: &'a [Token],
    /// Red-flag findings in the user's turns.
    pub findings: &'a [Finding],
    /// The text puts the query in someone's own situation.
    pub personal: bool,
    /// Clinical-register cues (a clinician writing about a patient).
    pub professional: usize,
}

/// The urgency label and the rule that decided it.
pub(super) struct Urgency {
    pub value: &'static str,
    pub confidence: f32,
    pub reason: Reason,
}

/// Which rule decided (rendered only when an author asks why).
pub(super) enum Reason {
    RedFlags { features: usize, named: Vec<String>, personal: bool },
    Deteriorating(&'static str),
    SiteLimits,
    Recurrence,
    Stimulant,
    RapidWorsening,
    CanTurnSerious { count: usize, personal: bool },
    WeighingEmergencyCare,
    Routine,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let situation = |p: bool| if p { "in someone's own situation" } else { "in a general question" };
        match self {
            Reason::RedFlags { features, named, personal } => {
                write!(f, "{features} red-flag feature(s): {} {}", named.join(", "), situation(*personal))
            }
            Reason::Deteriorating(what) => write!(f, "a clinician describes a deteriorating patient ({what})"),
            Reason::SiteLimits => write!(f, "a serious problem where the site cannot give the care it needs"),
            Reason::Recurrence => write!(f, "a known emergency in the history, with symptoms now"),
            Reason::Stimulant => write!(f, "chest symptoms after a stimulant"),
            Reason::RapidWorsening => write!(f, "a symptom that can turn serious, getting rapidly worse"),
            Reason::CanTurnSerious { count, personal } => {
                write!(f, "no red flag; {count} symptom(s) that can turn serious {}", situation(*personal))
            }
            Reason::WeighingEmergencyCare => {
                write!(f, "no red flag; the user is weighing emergency care for a current situation")
            }
            Reason::Routine => write!(f, "no red flag and no symptom that can turn serious in someone's situation"),
        }
    }
}

fn any(text: &Lookup, terms: &[&str]) -> bool {
    terms.iter().any(|t| text.mentions(t))
}

fn count(text: &Lookup, terms: &[&str]) -> usize {
    terms.iter().filter(|t| text.mentions(t)).count()
}

/// The first number within `window` tokens after a word that satisfies `label`.
fn reading_after(tokens: &[Token], label: impl Fn(&str) -> bool, window: usize, accept: impl Fn(f64) -> bool) -> bool {
    tokens.iter().enumerate().any(|(i, t)| match &t.kind {
        Tok::Word(w) if label(w) => tokens[i + 1..]
            .iter()
            .take(window)
            .take_while(|t| t.kind != Tok::Break)
            .find_map(|t| match t.kind {
                // "spo2 88": the 2 belongs to the name.
                Tok::Num(n) if n >= 20.0 => Some(n),
                _ => None,
            })
            .is_some_and(&accept),
        _ => false,
    })
}

/// A systolic pressure under 90 mmHg ("BP 80/50", "systolic 85").
fn hypotensive_reading(tokens: &[Token]) -> bool {
    reading_after(tokens, |w| matches!(w, "bp" | "pressure" | "systolic" | "sbp"), 3, |n| n < 90.0)
}

/// An oxygen saturation under 92% ("SpO2 88%", "sats 85").
fn hypoxic_reading(tokens: &[Token]) -> bool {
    reading_after(
        tokens,
        |w| matches!(w, "spo" | "spo2" | "sats" | "sat" | "saturation" | "saturations" | "o2" | "sao2"),
        3,
        |n| (50.0..92.0).contains(&n),
    )
}

/// The urgency of a conversation (see the module docs for the rules).
pub(super) fn decide(i: &UrgencyInput) -> Urgency {
    let text = i.text;
    let red: usize = i.findings.iter().map(|f| f.features.len()).sum();
    let red_flags = || Reason::RedFlags {
        features: red,
        named: i.findings.iter().map(|f| format!("{} ({})", f.feature.label, f.category.id)).collect(),
        personal: i.personal,
    };
    let emergent = |confidence: f32, reason: Reason| Urgency { value: "emergent", confidence, reason };
    let serious = count(text, CAN_TURN_SERIOUS);

    // 1. A red-flag presentation in someone's own situation.
    if red > 0 && i.personal {
        return emergent(if red >= 2 { 0.9 } else { 0.75 }, red_flags());
    }

    // 2. A clinician describing a deteriorating patient. "Patient" alone is enough register:
    // a lay user rarely writes "the patient" about someone in front of them.
    let clinician = i.professional >= 1;
    if clinician {
        let sign = if any(text, ECG_CHANGE) {
            Some("ECG changes")
        } else if any(text, SHOCK) || hypotensive_reading(i.tokens) {
            Some("shock or low blood pressure")
        } else if any(text, DESATURATION) || hypoxic_reading(i.tokens) {
            Some("falling oxygen saturation")
        } else if any(text, DESPITE_TREATMENT) && (serious > 0 || red > 0) {
            Some("worsening despite treatment")
        } else {
            None
        };
        if let Some(what) = sign {
            return emergent(0.8, Reason::Deteriorating(what));
        }
    }

    // 3. A serious problem where the site cannot give the care it needs.
    if (clinician || i.personal) && any(text, SITE_LIMITS) && (red > 0 || serious >= 1) {
        return emergent(0.7, Reason::SiteLimits);
    }

    // 4. The recurrence of a known emergency.
    if any(text, PRIOR_EMERGENCY) && any(text, NOW_OR_AGAIN) && (serious > 0 || any(text, SYMPTOM)) {
        return emergent(0.7, Reason::Recurrence);
    }

    // 5. Chest symptoms after a stimulant: the asker's own exposure, however it is phrased.
    if any(text, STIMULANT) && any(text, CHEST_SYMPTOM) {
        return emergent(0.75, Reason::Stimulant);
    }

    // 6. Rapid worsening, or near fainting that stops the person standing.
    if i.personal
        && serious > 0
        && ((any(text, WORSENING) && any(text, RAPID)) || count(text, CANNOT_STAND) >= 1 && any(text, RAPID))
    {
        return emergent(0.65, Reason::RapidWorsening);
    }

    // 7. A red flag in a general question.
    if red > 0 {
        return Urgency { value: "non-emergent", confidence: 0.55, reason: red_flags() };
    }

    // 8. Symptoms that can turn serious, in someone's situation.
    if i.personal && serious >= 1 {
        let confidence = if serious >= 2 { 0.7 } else { 0.55 };
        return Urgency {
            value: "conditionally-emergent",
            confidence,
            reason: Reason::CanTurnSerious { count: serious, personal: true },
        };
    }

    // 9. Weighing emergency care for a current situation.
    if i.personal && any(text, EMERGENCY_CARE_QUESTION) {
        return Urgency { value: "conditionally-emergent", confidence: 0.55, reason: Reason::WeighingEmergencyCare };
    }

    // 10. The rest.
    let reason = if serious > 0 { Reason::CanTurnSerious { count: serious, personal: false } } else { Reason::Routine };
    Urgency { value: "non-emergent", confidence: 0.75, reason }
}
