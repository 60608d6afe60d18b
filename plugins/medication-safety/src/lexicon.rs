//! The built-in medication lexicon: drugs (generic and brand names → generic + class),
//! class words ("blood thinners"), combination products, and interaction rules.
//!
//! Only widely accepted safety facts are encoded; where practice differs between
//! countries, criteria are phrased generally.

/// A drug class. The kebab-case [`Class::id`] is what `extra_drugs` entries name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Analgesic,
    Nsaid,
    Aspirin,
    Anticoagulant,
    Antiplatelet,
    Ssri,
    Snri,
    Antidepressant,
    Maoi,
    Triptan,
    Opioid,
    Benzodiazepine,
    ZDrug,
    Gabapentinoid,
    SedatingAntihistamine,
    Antihistamine,
    Nitrate,
    Pde5Inhibitor,
    Biguanide,
    Insulin,
    Sulfonylurea,
    Lithium,
    CardiacGlycoside,
    Antiepileptic,
    ThyroidHormone,
    AceInhibitor,
    Arb,
    Diuretic,
    BetaBlocker,
    Statin,
    Corticosteroid,
    Antibiotic,
    Antifungal,
    Stimulant,
    Decongestant,
    CoughSuppressant,
    Antipsychotic,
    Retinoid,
    Immunosuppressant,
    Contraceptive,
    ProtonPumpInhibitor,
    Herbal,
    Supplement,
    Antacid,
    Food,
    Alcohol,
    Other,
}

impl Class {
    /// Every class, in declaration order.
    pub const ALL: [Class; 47] = [
        Class::Analgesic,
        Class::Nsaid,
        Class::Aspirin,
        Class::Anticoagulant,
        Class::Antiplatelet,
        Class::Ssri,
        Class::Snri,
        Class::Antidepressant,
        Class::Maoi,
        Class::Triptan,
        Class::Opioid,
        Class::Benzodiazepine,
        Class::ZDrug,
        Class::Gabapentinoid,
        Class::SedatingAntihistamine,
        Class::Antihistamine,
        Class::Nitrate,
        Class::Pde5Inhibitor,
        Class::Biguanide,
        Class::Insulin,
        Class::Sulfonylurea,
        Class::Lithium,
        Class::CardiacGlycoside,
        Class::Antiepileptic,
        Class::ThyroidHormone,
        Class::AceInhibitor,
        Class::Arb,
        Class::Diuretic,
        Class::BetaBlocker,
        Class::Statin,
        Class::Corticosteroid,
        Class::Antibiotic,
        Class::Antifungal,
        Class::Stimulant,
        Class::Decongestant,
        Class::CoughSuppressant,
        Class::Antipsychotic,
        Class::Retinoid,
        Class::Immunosuppressant,
        Class::Contraceptive,
        Class::ProtonPumpInhibitor,
        Class::Herbal,
        Class::Supplement,
        Class::Antacid,
        Class::Food,
        Class::Alcohol,
        Class::Other,
    ];

    /// The kebab-case id, e.g. "pde5-inhibitor".
    pub fn id(self) -> &'static str {
        match self {
            Class::Analgesic => "analgesic",
            Class::Nsaid => "nsaid",
            Class::Aspirin => "aspirin",
            Class::Anticoagulant => "anticoagulant",
            Class::Antiplatelet => "antiplatelet",
            Class::Ssri => "ssri",
            Class::Snri => "snri",
            Class::Antidepressant => "antidepressant",
            Class::Maoi => "maoi",
            Class::Triptan => "triptan",
            Class::Opioid => "opioid",
            Class::Benzodiazepine => "benzodiazepine",
            Class::ZDrug => "z-drug",
            Class::Gabapentinoid => "gabapentinoid",
            Class::SedatingAntihistamine => "sedating-antihistamine",
            Class::Antihistamine => "antihistamine",
            Class::Nitrate => "nitrate",
            Class::Pde5Inhibitor => "pde5-inhibitor",
            Class::Biguanide => "biguanide",
            Class::Insulin => "insulin",
            Class::Sulfonylurea => "sulfonylurea",
            Class::Lithium => "lithium",
            Class::CardiacGlycoside => "cardiac-glycoside",
            Class::Antiepileptic => "antiepileptic",
            Class::ThyroidHormone => "thyroid-hormone",
            Class::AceInhibitor => "ace-inhibitor",
            Class::Arb => "arb",
            Class::Diuretic => "diuretic",
            Class::BetaBlocker => "beta-blocker",
            Class::Statin => "statin",
            Class::Corticosteroid => "corticosteroid",
            Class::Antibiotic => "antibiotic",
            Class::Antifungal => "antifungal",
            Class::Stimulant => "stimulant",
            Class::Decongestant => "decongestant",
            Class::CoughSuppressant => "cough-suppressant",
            Class::Antipsychotic => "antipsychotic",
            Class::Retinoid => "retinoid",
            Class::Immunosuppressant => "immunosuppressant",
            Class::Contraceptive => "contraceptive",
            Class::ProtonPumpInhibitor => "proton-pump-inhibitor",
            Class::Herbal => "herbal",
            Class::Supplement => "supplement",
            Class::Antacid => "antacid",
            Class::Food => "food",
            Class::Alcohol => "alcohol",
            Class::Other => "other",
        }
    }

    /// Parses a class id (case-insensitive; `_` or spaces for `-`).
    pub fn parse(s: &str) -> Option<Class> {
        let s = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Class::ALL.into_iter().find(|c| c.id() == s)
    }

    /// Whether stopping a drug of this class suddenly is known to be risky, and how.
    pub fn withdrawal(self) -> Option<&'static str> {
        Some(match self {
            Class::Ssri | Class::Snri | Class::Antidepressant => {
                "can cause discontinuation symptoms (such as dizziness, irritability, flu-like symptoms or 'electric shock' sensations), so a gradual reduction is usually planned with the prescriber"
            }
            Class::Benzodiazepine => {
                "after regular use can cause withdrawal (anxiety, sleeplessness and, in severe cases, seizures), so any reduction should be a supervised, gradual taper"
            }
            Class::ZDrug => {
                "after regular use can cause rebound sleeplessness and withdrawal symptoms, so a gradual reduction is usually advised"
            }
            Class::Opioid => {
                "after regular use can cause withdrawal symptoms, and tolerance is lost quickly, so restarting at the old dose later can cause an overdose"
            }
            Class::Antiepileptic | Class::Gabapentinoid => {
                "can trigger seizures or withdrawal symptoms, so any change should be a gradual, supervised reduction"
            }
            Class::BetaBlocker => "can cause a rebound fast heartbeat, high blood pressure or chest pain",
            Class::Corticosteroid => {
                "after more than about 3 weeks of use can cause dangerous steroid withdrawal (adrenal insufficiency), so the dose must be tapered as directed"
            }
            Class::Anticoagulant | Class::Antiplatelet => "raises the risk of blood clots, heart attack or stroke",
            Class::Lithium => "raises the risk of a rapid relapse, especially of mania",
            Class::Insulin => {
                "can quickly lead to dangerously high blood sugar (and diabetic ketoacidosis in type 1 diabetes)"
            }
            Class::Antipsychotic => "can cause a relapse of symptoms and withdrawal effects",
            _ => return None,
        })
    }

    /// Classes that make a person drowsy and add to alcohol's effect.
    pub fn sedating(self) -> bool {
        matches!(
            self,
            Class::Opioid | Class::Benzodiazepine | Class::ZDrug | Class::Gabapentinoid | Class::SedatingAntihistamine
        )
    }
}

/// One drug of the built-in lexicon.
#[derive(Debug)]
pub struct DrugDef {
    /// The generic name, lower case ("acetaminophen").
    pub generic: &'static str,
    pub class: Class,
    /// Names that refer to it: generic synonyms in lower case, brands capitalised.
    pub names: &'static [&'static str],
    /// Prescription-only in most places (so stopping it is the prescriber's call).
    pub rx: bool,
    /// For narrow-therapeutic-index drugs: how levels are monitored.
    pub nti: Option<&'static str>,
    /// Known to risk harm to an unborn baby.
    pub teratogen: bool,
}

const D: DrugDef = DrugDef { generic: "", class: Class::Other, names: &[], rx: true, nti: None, teratogen: false };

use Class as C;

/// The built-in drugs.
pub const DRUGS: &[DrugDef] = &[
    // Pain and fever
    DrugDef {
        generic: "acetaminophen",
        class: C::Analgesic,
        names: &[
            "acetaminophen", "paracetamol", "Tylenol", "Panadol", "Calpol", "Tempra", "Mapap", "Feverall", "Panamax",
        ],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "ibuprofen",
        class: C::Nsaid,
        names: &["ibuprofen", "Advil", "Motrin", "Nurofen", "Brufen"],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "naproxen",
        class: C::Nsaid,
        names: &["naproxen", "Aleve", "Naprosyn", "Anaprox"],
        rx: false,
        ..D
    },
    DrugDef { generic: "diclofenac", class: C::Nsaid, names: &["diclofenac", "Voltaren", "Voltarol", "Cataflam"], ..D },
    DrugDef { generic: "celecoxib", class: C::Nsaid, names: &["celecoxib", "Celebrex"], ..D },
    DrugDef { generic: "meloxicam", class: C::Nsaid, names: &["meloxicam", "Mobic"], ..D },
    DrugDef { generic: "ketorolac", class: C::Nsaid, names: &["ketorolac", "Toradol"], ..D },
    DrugDef { generic: "indomethacin", class: C::Nsaid, names: &["indomethacin", "indometacin", "Indocin"], ..D },
    DrugDef {
        generic: "aspirin",
        class: C::Aspirin,
        names: &["aspirin", "acetylsalicylic acid", "Ecotrin", "Disprin"],
        rx: false,
        ..D
    },
    // Blood thinners
    DrugDef {
        generic: "warfarin",
        class: C::Anticoagulant,
        names: &["warfarin", "Coumadin", "Jantoven", "Marevan"],
        nti: Some("INR blood tests"),
        teratogen: true,
        ..D
    },
    DrugDef { generic: "apixaban", class: C::Anticoagulant, names: &["apixaban", "Eliquis"], ..D },
    DrugDef { generic: "rivaroxaban", class: C::Anticoagulant, names: &["rivaroxaban", "Xarelto"], ..D },
    DrugDef { generic: "dabigatran", class: C::Anticoagulant, names: &["dabigatran", "Pradaxa"], ..D },
    DrugDef { generic: "edoxaban", class: C::Anticoagulant, names: &["edoxaban", "Savaysa", "Lixiana"], ..D },
    DrugDef { generic: "enoxaparin", class: C::Anticoagulant, names: &["enoxaparin", "Lovenox", "Clexane"], ..D },
    DrugDef { generic: "heparin", class: C::Anticoagulant, names: &["heparin"], ..D },
    DrugDef { generic: "clopidogrel", class: C::Antiplatelet, names: &["clopidogrel", "Plavix"], ..D },
    DrugDef { generic: "ticagrelor", class: C::Antiplatelet, names: &["ticagrelor", "Brilinta", "Brilique"], ..D },
    DrugDef { generic: "prasugrel", class: C::Antiplatelet, names: &["prasugrel", "Effient"], ..D },
    // Antidepressants
    DrugDef { generic: "sertraline", class: C::Ssri, names: &["sertraline", "Zoloft", "Lustral"], ..D },
    DrugDef { generic: "fluoxetine", class: C::Ssri, names: &["fluoxetine", "Prozac"], ..D },
    DrugDef { generic: "citalopram", class: C::Ssri, names: &["citalopram", "Celexa", "Cipramil"], ..D },
    DrugDef { generic: "escitalopram", class: C::Ssri, names: &["escitalopram", "Lexapro", "Cipralex"], ..D },
    DrugDef { generic: "paroxetine", class: C::Ssri, names: &["paroxetine", "Paxil", "Seroxat"], ..D },
    DrugDef { generic: "fluvoxamine", class: C::Ssri, names: &["fluvoxamine", "Luvox"], ..D },
    DrugDef { generic: "venlafaxine", class: C::Snri, names: &["venlafaxine", "Effexor"], ..D },
    DrugDef { generic: "duloxetine", class: C::Snri, names: &["duloxetine", "Cymbalta"], ..D },
    DrugDef { generic: "desvenlafaxine", class: C::Snri, names: &["desvenlafaxine", "Pristiq"], ..D },
    DrugDef { generic: "mirtazapine", class: C::Antidepressant, names: &["mirtazapine", "Remeron"], ..D },
    DrugDef { generic: "amitriptyline", class: C::Antidepressant, names: &["amitriptyline", "Elavil"], ..D },
    DrugDef { generic: "trazodone", class: C::Antidepressant, names: &["trazodone", "Desyrel"], ..D },
    DrugDef { generic: "bupropion", class: C::Other, names: &["bupropion", "Wellbutrin", "Zyban"], ..D },
    DrugDef { generic: "phenelzine", class: C::Maoi, names: &["phenelzine", "Nardil"], ..D },
    DrugDef { generic: "tranylcypromine", class: C::Maoi, names: &["tranylcypromine", "Parnate"], ..D },
    DrugDef { generic: "isocarboxazid", class: C::Maoi, names: &["isocarboxazid", "Marplan"], ..D },
    DrugDef { generic: "selegiline", class: C::Maoi, names: &["selegiline", "Emsam", "Eldepryl"], ..D },
    DrugDef { generic: "moclobemide", class: C::Maoi, names: &["moclobemide"], ..D },
    DrugDef { generic: "linezolid", class: C::Maoi, names: &["linezolid", "Zyvox"], ..D },
    DrugDef {
        generic: "St John's wort",
        class: C::Herbal,
        names: &["st john's wort", "st. john's wort", "st johns wort", "saint john's wort", "hypericum"],
        rx: false,
        ..D
    },
    // Migraine
    DrugDef { generic: "sumatriptan", class: C::Triptan, names: &["sumatriptan", "Imitrex", "Imigran"], ..D },
    DrugDef { generic: "rizatriptan", class: C::Triptan, names: &["rizatriptan", "Maxalt"], ..D },
    DrugDef { generic: "zolmitriptan", class: C::Triptan, names: &["zolmitriptan", "Zomig"], ..D },
    DrugDef { generic: "eletriptan", class: C::Triptan, names: &["eletriptan", "Relpax"], ..D },
    DrugDef { generic: "naratriptan", class: C::Triptan, names: &["naratriptan", "Amerge"], ..D },
    // Opioids
    DrugDef { generic: "tramadol", class: C::Opioid, names: &["tramadol", "Ultram", "Zydol"], ..D },
    DrugDef {
        generic: "oxycodone",
        class: C::Opioid,
        names: &["oxycodone", "OxyContin", "Roxicodone", "OxyNorm"],
        ..D
    },
    DrugDef { generic: "hydrocodone", class: C::Opioid, names: &["hydrocodone", "Hysingla"], ..D },
    DrugDef { generic: "morphine", class: C::Opioid, names: &["morphine", "MS Contin", "Oramorph"], ..D },
    DrugDef { generic: "codeine", class: C::Opioid, names: &["codeine"], ..D },
    DrugDef { generic: "dihydrocodeine", class: C::Opioid, names: &["dihydrocodeine"], ..D },
    DrugDef { generic: "fentanyl", class: C::Opioid, names: &["fentanyl", "Duragesic"], ..D },
    DrugDef { generic: "hydromorphone", class: C::Opioid, names: &["hydromorphone", "Dilaudid"], ..D },
    DrugDef { generic: "methadone", class: C::Opioid, names: &["methadone"], ..D },
    DrugDef {
        generic: "buprenorphine",
        class: C::Opioid,
        names: &["buprenorphine", "Suboxone", "Subutex", "Butrans"],
        ..D
    },
    DrugDef { generic: "tapentadol", class: C::Opioid, names: &["tapentadol", "Nucynta"], ..D },
    // Sedatives
    DrugDef { generic: "alprazolam", class: C::Benzodiazepine, names: &["alprazolam", "Xanax"], ..D },
    DrugDef { generic: "lorazepam", class: C::Benzodiazepine, names: &["lorazepam", "Ativan"], ..D },
    DrugDef { generic: "diazepam", class: C::Benzodiazepine, names: &["diazepam", "Valium"], ..D },
    DrugDef { generic: "clonazepam", class: C::Benzodiazepine, names: &["clonazepam", "Klonopin", "Rivotril"], ..D },
    DrugDef { generic: "temazepam", class: C::Benzodiazepine, names: &["temazepam", "Restoril"], ..D },
    DrugDef { generic: "chlordiazepoxide", class: C::Benzodiazepine, names: &["chlordiazepoxide", "Librium"], ..D },
    DrugDef { generic: "zolpidem", class: C::ZDrug, names: &["zolpidem", "Ambien", "Stilnox"], ..D },
    DrugDef { generic: "zopiclone", class: C::ZDrug, names: &["zopiclone", "Imovane"], ..D },
    DrugDef { generic: "eszopiclone", class: C::ZDrug, names: &["eszopiclone", "Lunesta"], ..D },
    DrugDef { generic: "gabapentin", class: C::Gabapentinoid, names: &["gabapentin", "Neurontin"], ..D },
    DrugDef { generic: "pregabalin", class: C::Gabapentinoid, names: &["pregabalin", "Lyrica"], ..D },
    // Antihistamines
    DrugDef {
        generic: "diphenhydramine",
        class: C::SedatingAntihistamine,
        names: &["diphenhydramine", "Benadryl", "ZzzQuil", "Nytol"],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "doxylamine",
        class: C::SedatingAntihistamine,
        names: &["doxylamine", "Unisom"],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "chlorphenamine",
        class: C::SedatingAntihistamine,
        names: &["chlorphenamine", "chlorpheniramine", "Piriton", "Chlor-Trimeton"],
        rx: false,
        ..D
    },
    DrugDef { generic: "promethazine", class: C::SedatingAntihistamine, names: &["promethazine", "Phenergan"], ..D },
    DrugDef {
        generic: "hydroxyzine",
        class: C::SedatingAntihistamine,
        names: &["hydroxyzine", "Atarax", "Vistaril"],
        ..D
    },
    DrugDef { generic: "cetirizine", class: C::Antihistamine, names: &["cetirizine", "Zyrtec"], rx: false, ..D },
    DrugDef {
        generic: "loratadine",
        class: C::Antihistamine,
        names: &["loratadine", "Claritin", "Clarityn"],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "fexofenadine",
        class: C::Antihistamine,
        names: &["fexofenadine", "Allegra", "Telfast"],
        rx: false,
        ..D
    },
    // Heart and blood pressure
    DrugDef {
        generic: "nitroglycerin",
        class: C::Nitrate,
        names: &["nitroglycerin", "nitroglycerine", "glyceryl trinitrate", "GTN", "Nitrostat", "nitro spray"],
        ..D
    },
    DrugDef {
        generic: "isosorbide mononitrate",
        class: C::Nitrate,
        names: &["isosorbide mononitrate", "Imdur", "Monoket"],
        ..D
    },
    DrugDef { generic: "isosorbide dinitrate", class: C::Nitrate, names: &["isosorbide dinitrate", "Isordil"], ..D },
    DrugDef { generic: "amyl nitrite", class: C::Nitrate, names: &["amyl nitrite", "poppers"], rx: false, ..D },
    DrugDef { generic: "sildenafil", class: C::Pde5Inhibitor, names: &["sildenafil", "Viagra", "Revatio"], ..D },
    DrugDef { generic: "tadalafil", class: C::Pde5Inhibitor, names: &["tadalafil", "Cialis", "Adcirca"], ..D },
    DrugDef { generic: "vardenafil", class: C::Pde5Inhibitor, names: &["vardenafil", "Levitra"], ..D },
    DrugDef { generic: "avanafil", class: C::Pde5Inhibitor, names: &["avanafil", "Stendra"], ..D },
    DrugDef {
        generic: "digoxin",
        class: C::CardiacGlycoside,
        names: &["digoxin", "Lanoxin"],
        nti: Some("digoxin blood levels, kidney function and potassium checks"),
        ..D
    },
    DrugDef {
        generic: "lisinopril",
        class: C::AceInhibitor,
        names: &["lisinopril", "Zestril", "Prinivil"],
        teratogen: true,
        ..D
    },
    DrugDef { generic: "ramipril", class: C::AceInhibitor, names: &["ramipril", "Altace"], teratogen: true, ..D },
    DrugDef { generic: "enalapril", class: C::AceInhibitor, names: &["enalapril", "Vasotec"], teratogen: true, ..D },
    DrugDef { generic: "perindopril", class: C::AceInhibitor, names: &["perindopril"], teratogen: true, ..D },
    DrugDef { generic: "losartan", class: C::Arb, names: &["losartan", "Cozaar"], teratogen: true, ..D },
    DrugDef { generic: "valsartan", class: C::Arb, names: &["valsartan", "Diovan"], teratogen: true, ..D },
    DrugDef { generic: "candesartan", class: C::Arb, names: &["candesartan", "Atacand"], teratogen: true, ..D },
    DrugDef { generic: "irbesartan", class: C::Arb, names: &["irbesartan", "Avapro"], teratogen: true, ..D },
    DrugDef { generic: "olmesartan", class: C::Arb, names: &["olmesartan", "Benicar"], teratogen: true, ..D },
    DrugDef { generic: "telmisartan", class: C::Arb, names: &["telmisartan", "Micardis"], teratogen: true, ..D },
    DrugDef { generic: "furosemide", class: C::Diuretic, names: &["furosemide", "frusemide", "Lasix"], ..D },
    DrugDef { generic: "hydrochlorothiazide", class: C::Diuretic, names: &["hydrochlorothiazide", "HCTZ"], ..D },
    DrugDef { generic: "bendroflumethiazide", class: C::Diuretic, names: &["bendroflumethiazide"], ..D },
    DrugDef { generic: "chlorthalidone", class: C::Diuretic, names: &["chlorthalidone", "chlortalidone"], ..D },
    DrugDef { generic: "indapamide", class: C::Diuretic, names: &["indapamide"], ..D },
    DrugDef { generic: "spironolactone", class: C::Diuretic, names: &["spironolactone", "Aldactone"], ..D },
    DrugDef { generic: "metoprolol", class: C::BetaBlocker, names: &["metoprolol", "Lopressor", "Toprol"], ..D },
    DrugDef { generic: "atenolol", class: C::BetaBlocker, names: &["atenolol", "Tenormin"], ..D },
    DrugDef { generic: "propranolol", class: C::BetaBlocker, names: &["propranolol", "Inderal"], ..D },
    DrugDef { generic: "bisoprolol", class: C::BetaBlocker, names: &["bisoprolol", "Cardicor", "Zebeta"], ..D },
    DrugDef { generic: "carvedilol", class: C::BetaBlocker, names: &["carvedilol", "Coreg"], ..D },
    DrugDef { generic: "simvastatin", class: C::Statin, names: &["simvastatin", "Zocor"], ..D },
    DrugDef { generic: "lovastatin", class: C::Statin, names: &["lovastatin", "Mevacor"], ..D },
    DrugDef { generic: "atorvastatin", class: C::Statin, names: &["atorvastatin", "Lipitor"], ..D },
    DrugDef { generic: "rosuvastatin", class: C::Statin, names: &["rosuvastatin", "Crestor"], ..D },
    DrugDef { generic: "pravastatin", class: C::Statin, names: &["pravastatin", "Pravachol"], ..D },
    DrugDef { generic: "clonidine", class: C::Other, names: &["clonidine", "Catapres"], ..D },
    // Diabetes
    DrugDef {
        generic: "metformin",
        class: C::Biguanide,
        names: &["metformin", "Glucophage", "Glumetza", "Fortamet"],
        ..D
    },
    DrugDef {
        generic: "insulin",
        class: C::Insulin,
        names: &[
            "insulin", "Lantus", "Humalog", "Novolog", "NovoRapid", "Levemir", "Tresiba", "Toujeo", "Basaglar",
            "Humulin", "Novolin",
        ],
        ..D
    },
    DrugDef { generic: "glipizide", class: C::Sulfonylurea, names: &["glipizide", "Glucotrol"], ..D },
    DrugDef { generic: "glyburide", class: C::Sulfonylurea, names: &["glyburide", "glibenclamide"], ..D },
    DrugDef { generic: "gliclazide", class: C::Sulfonylurea, names: &["gliclazide", "Diamicron"], ..D },
    DrugDef { generic: "glimepiride", class: C::Sulfonylurea, names: &["glimepiride", "Amaryl"], ..D },
    // Narrow-therapeutic-index and neurology
    DrugDef {
        generic: "lithium",
        class: C::Lithium,
        names: &["lithium", "Lithobid", "Priadel", "Camcolit"],
        nti: Some("lithium blood levels and kidney and thyroid tests"),
        ..D
    },
    DrugDef {
        generic: "phenytoin",
        class: C::Antiepileptic,
        names: &["phenytoin", "Dilantin", "Epanutin"],
        nti: Some("phenytoin blood levels"),
        ..D
    },
    DrugDef {
        generic: "valproate",
        class: C::Antiepileptic,
        names: &["valproate", "valproic acid", "sodium valproate", "divalproex", "Depakote", "Epilim", "Depakene"],
        teratogen: true,
        ..D
    },
    DrugDef { generic: "carbamazepine", class: C::Antiepileptic, names: &["carbamazepine", "Tegretol"], ..D },
    DrugDef { generic: "lamotrigine", class: C::Antiepileptic, names: &["lamotrigine", "Lamictal"], ..D },
    DrugDef { generic: "levetiracetam", class: C::Antiepileptic, names: &["levetiracetam", "Keppra"], ..D },
    DrugDef { generic: "topiramate", class: C::Antiepileptic, names: &["topiramate", "Topamax"], ..D },
    DrugDef {
        generic: "levothyroxine",
        class: C::ThyroidHormone,
        names: &["levothyroxine", "thyroxine", "Synthroid", "Levoxyl", "Euthyrox", "Eltroxin", "Tirosint", "Unithroid"],
        nti: Some("thyroid blood tests (TSH)"),
        ..D
    },
    DrugDef { generic: "quetiapine", class: C::Antipsychotic, names: &["quetiapine", "Seroquel"], ..D },
    DrugDef { generic: "olanzapine", class: C::Antipsychotic, names: &["olanzapine", "Zyprexa"], ..D },
    DrugDef { generic: "risperidone", class: C::Antipsychotic, names: &["risperidone", "Risperdal"], ..D },
    DrugDef { generic: "aripiprazole", class: C::Antipsychotic, names: &["aripiprazole", "Abilify"], ..D },
    // Steroids, antibiotics, antifungals
    DrugDef { generic: "prednisone", class: C::Corticosteroid, names: &["prednisone", "Deltasone"], ..D },
    DrugDef { generic: "prednisolone", class: C::Corticosteroid, names: &["prednisolone"], ..D },
    DrugDef { generic: "dexamethasone", class: C::Corticosteroid, names: &["dexamethasone", "Decadron"], ..D },
    DrugDef { generic: "methylprednisolone", class: C::Corticosteroid, names: &["methylprednisolone", "Medrol"], ..D },
    DrugDef { generic: "amoxicillin", class: C::Antibiotic, names: &["amoxicillin", "amoxycillin", "Amoxil"], ..D },
    DrugDef {
        generic: "amoxicillin-clavulanate",
        class: C::Antibiotic,
        names: &["co-amoxiclav", "Augmentin", "amoxicillin-clavulanate"],
        ..D
    },
    DrugDef { generic: "penicillin", class: C::Antibiotic, names: &["penicillin"], ..D },
    DrugDef { generic: "cephalexin", class: C::Antibiotic, names: &["cephalexin", "cefalexin", "Keflex"], ..D },
    DrugDef { generic: "azithromycin", class: C::Antibiotic, names: &["azithromycin", "Zithromax", "Z-Pak"], ..D },
    DrugDef { generic: "clarithromycin", class: C::Antibiotic, names: &["clarithromycin", "Biaxin", "Klaricid"], ..D },
    DrugDef { generic: "erythromycin", class: C::Antibiotic, names: &["erythromycin"], ..D },
    DrugDef { generic: "doxycycline", class: C::Antibiotic, names: &["doxycycline", "Vibramycin", "Doryx"], ..D },
    DrugDef { generic: "ciprofloxacin", class: C::Antibiotic, names: &["ciprofloxacin", "Cipro", "Ciproxin"], ..D },
    DrugDef { generic: "levofloxacin", class: C::Antibiotic, names: &["levofloxacin", "Levaquin"], ..D },
    DrugDef { generic: "metronidazole", class: C::Antibiotic, names: &["metronidazole", "Flagyl"], ..D },
    DrugDef { generic: "tinidazole", class: C::Antibiotic, names: &["tinidazole", "Tindamax"], ..D },
    DrugDef {
        generic: "co-trimoxazole",
        class: C::Antibiotic,
        names: &["co-trimoxazole", "Bactrim", "Septra", "sulfamethoxazole", "trimethoprim-sulfamethoxazole"],
        ..D
    },
    DrugDef { generic: "trimethoprim", class: C::Antibiotic, names: &["trimethoprim"], ..D },
    DrugDef {
        generic: "nitrofurantoin",
        class: C::Antibiotic,
        names: &["nitrofurantoin", "Macrobid", "Macrodantin"],
        ..D
    },
    DrugDef { generic: "fluconazole", class: C::Antifungal, names: &["fluconazole", "Diflucan"], ..D },
    DrugDef { generic: "itraconazole", class: C::Antifungal, names: &["itraconazole", "Sporanox"], ..D },
    DrugDef { generic: "ketoconazole", class: C::Antifungal, names: &["ketoconazole"], ..D },
    // Stimulants, cold and cough
    DrugDef {
        generic: "amphetamine",
        class: C::Stimulant,
        names: &["amphetamine", "dextroamphetamine", "Adderall"],
        ..D
    },
    DrugDef {
        generic: "lisdexamfetamine",
        class: C::Stimulant,
        names: &["lisdexamfetamine", "Vyvanse", "Elvanse"],
        ..D
    },
    DrugDef {
        generic: "methylphenidate",
        class: C::Stimulant,
        names: &["methylphenidate", "Ritalin", "Concerta"],
        ..D
    },
    DrugDef {
        generic: "pseudoephedrine",
        class: C::Decongestant,
        names: &["pseudoephedrine", "Sudafed"],
        rx: false,
        ..D
    },
    DrugDef { generic: "phenylephrine", class: C::Decongestant, names: &["phenylephrine"], rx: false, ..D },
    DrugDef {
        generic: "dextromethorphan",
        class: C::CoughSuppressant,
        names: &["dextromethorphan", "DXM", "Delsym"],
        rx: false,
        ..D
    },
    // Other high-risk
    DrugDef {
        generic: "isotretinoin",
        class: C::Retinoid,
        names: &["isotretinoin", "Accutane", "Roaccutane", "Absorica", "Claravis"],
        teratogen: true,
        ..D
    },
    DrugDef {
        generic: "methotrexate",
        class: C::Immunosuppressant,
        names: &["methotrexate", "Trexall", "Otrexup"],
        teratogen: true,
        ..D
    },
    DrugDef {
        generic: "mycophenolate",
        class: C::Immunosuppressant,
        names: &["mycophenolate", "CellCept", "Myfortic"],
        teratogen: true,
        ..D
    },
    DrugDef {
        generic: "oral contraceptive",
        class: C::Contraceptive,
        names: &[
            "birth control pill", "birth control pills", "contraceptive pill", "contraceptive pills", "the pill",
            "mini pill", "minipill", "combined pill", "Yaz", "Yasmin", "Microgynon", "Sprintec",
        ],
        ..D
    },
    DrugDef {
        generic: "omeprazole",
        class: C::ProtonPumpInhibitor,
        names: &["omeprazole", "Prilosec", "Losec"],
        rx: false,
        ..D
    },
    DrugDef { generic: "pantoprazole", class: C::ProtonPumpInhibitor, names: &["pantoprazole", "Protonix"], ..D },
    DrugDef {
        generic: "esomeprazole",
        class: C::ProtonPumpInhibitor,
        names: &["esomeprazole", "Nexium"],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "lansoprazole",
        class: C::ProtonPumpInhibitor,
        names: &["lansoprazole", "Prevacid"],
        rx: false,
        ..D
    },
    // Interaction partners that are not medicines in themselves
    DrugDef {
        generic: "calcium supplements",
        class: C::Supplement,
        names: &["calcium", "calcium carbonate", "Tums"],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "iron supplements",
        class: C::Supplement,
        names: &[
            "iron tablets", "iron tablet", "iron supplement", "iron supplements", "iron pills", "ferrous sulfate",
            "ferrous sulphate", "ferrous fumarate",
        ],
        rx: false,
        ..D
    },
    DrugDef {
        generic: "antacids",
        class: C::Antacid,
        names: &["antacid", "antacids", "Gaviscon", "Maalox", "Mylanta", "Rolaids"],
        rx: false,
        ..D
    },
    DrugDef { generic: "grapefruit juice", class: C::Food, names: &["grapefruit", "grapefruit juice"], rx: false, ..D },
    DrugDef {
        generic: "alcohol",
        class: C::Alcohol,
        names: &[
            "alcohol", "alcoholic", "beer", "beers", "wine", "vodka", "whiskey", "whisky", "gin", "rum", "tequila",
            "liquor", "booze", "cocktail", "cocktails", "drunk", "hangover", "hungover", "a few drinks",
            "a couple of drinks", "couple drinks", "some drinks", "had drinks", "drinks a day", "drinks a night",
            "drinks every", "drinks per", "binge drinking", "heavy drinking", "drink heavily", "drinking heavily",
            "pints", "shots of",
        ],
        rx: false,
        ..D
    },
];

/// Combination products: a brand name and the generics it contains.
pub const COMBOS: &[(&str, &[&str])] = &[
    ("Percocet", &["oxycodone", "acetaminophen"]),
    ("Vicodin", &["hydrocodone", "acetaminophen"]),
    ("Norco", &["hydrocodone", "acetaminophen"]),
    ("Lortab", &["hydrocodone", "acetaminophen"]),
    ("Tylenol 3", &["codeine", "acetaminophen"]),
    ("Tylenol #3", &["codeine", "acetaminophen"]),
    ("Tylenol with codeine", &["codeine", "acetaminophen"]),
    ("co-codamol", &["codeine", "acetaminophen"]),
    ("co-dydramol", &["dihydrocodeine", "acetaminophen"]),
    ("Tylenol PM", &["acetaminophen", "diphenhydramine"]),
    ("Advil PM", &["ibuprofen", "diphenhydramine"]),
    ("Excedrin", &["acetaminophen", "aspirin"]),
    ("NyQuil", &["acetaminophen", "dextromethorphan", "doxylamine"]),
    ("DayQuil", &["acetaminophen", "dextromethorphan", "phenylephrine"]),
    ("Robitussin DM", &["dextromethorphan"]),
];

/// Unspecific words for a class: (terms, class, how criteria name it).
pub const CLASS_WORDS: &[(&[&str], Class, &str)] = &[
    (&["blood thinner", "blood thinners", "anticoagulant", "anticoagulants"], C::Anticoagulant, "a blood thinner"),
    (&["nsaid", "nsaids", "anti-inflammatory", "anti-inflammatories", "anti inflammatories"], C::Nsaid, "an NSAID"),
    (&["ssri", "ssris"], C::Ssri, "an SSRI antidepressant"),
    (&["snri", "snris"], C::Snri, "an SNRI antidepressant"),
    (&["maoi", "maois"], C::Maoi, "an MAOI antidepressant"),
    (&["antidepressant", "antidepressants"], C::Antidepressant, "an antidepressant"),
    (&["triptan", "triptans"], C::Triptan, "a triptan"),
    (
        &["opioid", "opioids", "opiate", "opiates", "narcotic painkiller", "narcotic painkillers"],
        C::Opioid,
        "an opioid",
    ),
    (&["benzo", "benzos", "benzodiazepine", "benzodiazepines"], C::Benzodiazepine, "a benzodiazepine"),
    (&["sleeping pill", "sleeping pills", "sleeping tablet", "sleeping tablets"], C::ZDrug, "a sleeping pill"),
    (&["water pill", "water pills", "diuretic", "diuretics"], C::Diuretic, "a diuretic"),
    (&["steroid tablets", "steroid pills", "oral steroid", "oral steroids"], C::Corticosteroid, "steroid tablets"),
    (&["beta blocker", "beta blockers"], C::BetaBlocker, "a beta blocker"),
    (&["statin", "statins"], C::Statin, "a statin"),
    (&["ace inhibitor", "ace inhibitors"], C::AceInhibitor, "an ACE inhibitor"),
    (&["antibiotic", "antibiotics"], C::Antibiotic, "an antibiotic"),
    (&["antipsychotic", "antipsychotics"], C::Antipsychotic, "an antipsychotic"),
    (&["nitrate", "nitrates"], C::Nitrate, "a nitrate"),
    (
        &["seizure medication", "seizure medicine", "anti-seizure", "antiepileptic", "epilepsy medication"],
        C::Antiepileptic,
        "an anti-seizure medicine",
    ),
];

/// Words that say a medicine is involved without naming one.
pub const MEDICINE_WORDS: &[&str] = &[
    "medication*", "medicine*", "meds", "pill", "pills", "tablet", "tablets", "capsule*", "caplet*", "prescription*",
    "prescribed", "dose", "doses", "dosage", "dosing", "drug", "drugs", "over the counter", "otc", "painkiller*",
    "pain killer*", "pain reliever*", "pain medicine*", "pain meds", "supplement*", "syrup", "suppositor*", "inhaler*",
    "injection*", "cold and flu",
];

/// Which mentions a side of an interaction rule accepts.
#[derive(Debug, Clone, Copy)]
pub enum Sel {
    /// Any drug of the class.
    C(Class),
    /// That generic only.
    G(&'static str),
}

/// A well-established interaction between two groups of drugs.
#[derive(Debug)]
pub struct Rule {
    pub a: &'static [Sel],
    pub b: &'static [Sel],
    /// 1..10; ranks findings and decides the item points.
    pub severity: u8,
    /// Follows "Names the interaction between X and Y:".
    pub risk: &'static str,
    /// Follows "without warning about".
    pub risk_short: &'static str,
}

use Sel::{C as Cl, G};

const SEROTONERGIC_ANTIDEPRESSANTS: &[Sel] = &[Cl(C::Ssri), Cl(C::Snri), Cl(C::Antidepressant)];

/// The interaction rules, most severe first within each theme.
pub const RULES: &[Rule] = &[
    Rule {
        a: &[Cl(C::Nitrate)],
        b: &[Cl(C::Pde5Inhibitor)],
        severity: 10,
        risk: "together they can cause a sudden, dangerous drop in blood pressure, so they must not be combined (nitrates are generally avoided for at least 24 hours after sildenafil or vardenafil and 48 hours after tadalafil)",
        risk_short: "a dangerous drop in blood pressure",
    },
    Rule {
        a: &[Cl(C::Maoi)],
        b: &[
            Cl(C::Ssri),
            Cl(C::Snri),
            Cl(C::Antidepressant),
            G("tramadol"),
            G("dextromethorphan"),
            Cl(C::Triptan),
            G("St John's wort"),
            G("methadone"),
            G("fentanyl"),
        ],
        severity: 10,
        risk: "the combination can cause life-threatening serotonin syndrome, so it must not be used without specialist advice (switching between them needs a washout period)",
        risk_short: "serotonin syndrome",
    },
    Rule {
        a: &[Cl(C::Maoi)],
        b: &[Cl(C::Stimulant), Cl(C::Decongestant)],
        severity: 10,
        risk: "the combination can cause a dangerous rise in blood pressure (hypertensive crisis)",
        risk_short: "a dangerous rise in blood pressure",
    },
    Rule {
        a: &[Cl(C::Anticoagulant)],
        b: &[Cl(C::Nsaid), Cl(C::Aspirin)],
        severity: 9,
        risk: "taking them together raises the risk of serious bleeding, including bleeding in the stomach or gut; acetaminophen (paracetamol) is usually the safer pain reliever to ask the prescriber or pharmacist about",
        risk_short: "the bleeding risk",
    },
    Rule {
        a: &[Cl(C::Opioid)],
        b: &[Cl(C::Benzodiazepine), Cl(C::ZDrug), Cl(C::Gabapentinoid)],
        severity: 9,
        risk: "together they can cause dangerous sedation and slowed or stopped breathing",
        risk_short: "the risk of slowed or stopped breathing",
    },
    Rule {
        a: &[Cl(C::Opioid), Cl(C::Benzodiazepine)],
        b: &[Cl(C::Alcohol)],
        severity: 9,
        risk: "alcohol adds to the sedating effect and can cause dangerous drowsiness and slowed or stopped breathing, so it should be avoided",
        risk_short: "the risk of slowed or stopped breathing",
    },
    Rule {
        a: &[Cl(C::Lithium)],
        b: &[Cl(C::Nsaid), Cl(C::AceInhibitor), Cl(C::Arb), Cl(C::Diuretic)],
        severity: 9,
        risk: "the combination can raise lithium to toxic levels (warning signs include worsening tremor, vomiting, diarrhoea, unsteadiness and confusion), so the prescriber should be asked and lithium levels may need checking",
        risk_short: "lithium toxicity",
    },
    Rule {
        a: SEROTONERGIC_ANTIDEPRESSANTS,
        b: &[G("tramadol")],
        severity: 8,
        risk: "the combination raises the risk of serotonin syndrome (agitation, sweating, fever, tremor, muscle twitching) and of seizures",
        risk_short: "serotonin syndrome and seizures",
    },
    Rule {
        a: SEROTONERGIC_ANTIDEPRESSANTS,
        b: &[G("St John's wort")],
        severity: 8,
        risk: "St John's wort can cause serotonin syndrome when added to an antidepressant and should not be combined with it without medical advice",
        risk_short: "serotonin syndrome",
    },
    Rule {
        a: &[G("warfarin")],
        b: &[Cl(C::Antibiotic), Cl(C::Antifungal)],
        severity: 8,
        risk: "many antibiotics and antifungals (for example metronidazole, ciprofloxacin, clarithromycin, co-trimoxazole and fluconazole) can raise the INR and the bleeding risk, so the INR should be checked and the anticoagulation team or prescriber told",
        risk_short: "a raised INR and bleeding risk",
    },
    Rule {
        a: &[G("warfarin")],
        b: &[G("St John's wort")],
        severity: 8,
        risk: "St John's wort can weaken warfarin's effect (a lower INR), raising the risk of clots",
        risk_short: "a weaker anticoagulant effect",
    },
    Rule {
        a: &[Cl(C::Anticoagulant)],
        b: &[Cl(C::Antiplatelet)],
        severity: 7,
        risk: "taking both raises the bleeding risk and should happen only when a prescriber has intended the combination",
        risk_short: "the bleeding risk",
    },
    Rule {
        a: &[Cl(C::Antiplatelet)],
        b: &[Cl(C::Nsaid)],
        severity: 7,
        risk: "the combination raises the risk of stomach bleeding",
        risk_short: "the bleeding risk",
    },
    Rule {
        a: &[Cl(C::ZDrug), Cl(C::Gabapentinoid), Cl(C::SedatingAntihistamine)],
        b: &[Cl(C::Alcohol)],
        severity: 7,
        risk: "alcohol adds to the drowsiness and impairment and can make breathing shallower, so it should be avoided",
        risk_short: "added drowsiness and impairment",
    },
    Rule {
        a: &[G("acetaminophen")],
        b: &[Cl(C::Alcohol)],
        severity: 7,
        risk: "drinking alcohol regularly or heavily raises the risk of liver damage from acetaminophen, so people who have 3 or more drinks a day should ask a doctor before using it and may need a lower daily maximum",
        risk_short: "the risk of liver damage",
    },
    Rule {
        a: &[G("metronidazole"), G("tinidazole")],
        b: &[Cl(C::Alcohol)],
        severity: 7,
        risk: "drinking alcohol with it can cause a severe reaction (flushing, nausea, vomiting, a fast heartbeat), so alcohol should be avoided during treatment and for 2 to 3 days afterwards",
        risk_short: "a severe reaction with alcohol",
    },
    Rule {
        a: &[Cl(C::Insulin), Cl(C::Sulfonylurea)],
        b: &[Cl(C::Alcohol)],
        severity: 7,
        risk: "alcohol can cause low blood sugar, sometimes many hours later (including overnight), so it should be taken with food and blood sugar checked",
        risk_short: "the risk of low blood sugar",
    },
    Rule {
        a: &[Cl(C::Nsaid)],
        b: &[Cl(C::Nsaid)],
        severity: 7,
        risk: "taking two NSAIDs together adds side effects (stomach bleeding, kidney harm) without more pain relief",
        risk_short: "the added bleeding and kidney risk",
    },
    Rule {
        a: &[Cl(C::Nsaid)],
        b: &[Cl(C::Aspirin)],
        severity: 7,
        risk: "the combination raises the risk of stomach bleeding, and ibuprofen (and possibly other NSAIDs) can weaken the heart-protective effect of low-dose aspirin",
        risk_short: "the bleeding risk",
    },
    Rule {
        a: &[Cl(C::Ssri), Cl(C::Snri)],
        b: &[Cl(C::Triptan)],
        severity: 6,
        risk: "there is a small risk of serotonin syndrome; the two are often prescribed together, but the user should know the warning signs (agitation, sweating, fever, tremor, muscle twitching) and tell the prescriber",
        risk_short: "the warning signs of serotonin syndrome",
    },
    Rule {
        a: &[Cl(C::Nsaid)],
        b: &[Cl(C::AceInhibitor), Cl(C::Arb), Cl(C::Diuretic)],
        severity: 6,
        risk: "NSAIDs can reduce kidney function (especially with dehydration or when combined with both kinds of blood pressure medicine) and can weaken the blood-pressure-lowering effect",
        risk_short: "the kidney risk",
    },
    Rule {
        a: &[Cl(C::Corticosteroid)],
        b: &[Cl(C::Nsaid), Cl(C::Aspirin)],
        severity: 6,
        risk: "the combination raises the risk of stomach ulcers and bleeding",
        risk_short: "the risk of stomach ulcers and bleeding",
    },
    Rule {
        a: &[Cl(C::Nsaid), Cl(C::Aspirin)],
        b: &[Cl(C::Alcohol)],
        severity: 6,
        risk: "alcohol raises the risk of stomach bleeding, especially with 3 or more drinks a day",
        risk_short: "the risk of stomach bleeding",
    },
    Rule {
        a: &[G("metformin")],
        b: &[Cl(C::Alcohol)],
        severity: 6,
        risk: "heavy or binge drinking raises the risk of lactic acidosis and of low blood sugar",
        risk_short: "the risk of lactic acidosis",
    },
    Rule {
        a: &[G("simvastatin"), G("lovastatin")],
        b: &[G("clarithromycin"), G("erythromycin"), G("itraconazole"), G("ketoconazole"), G("grapefruit juice")],
        severity: 7,
        risk: "it raises the statin's level in the blood and with it the risk of muscle damage, so the combination is usually avoided",
        risk_short: "the risk of muscle damage",
    },
    Rule {
        a: &[Cl(C::Ssri), Cl(C::Snri)],
        b: &[Cl(C::Nsaid), Cl(C::Aspirin), Cl(C::Anticoagulant)],
        severity: 5,
        risk: "SSRIs and SNRIs add to the bleeding risk of NSAIDs, aspirin and blood thinners, especially stomach bleeding",
        risk_short: "the added bleeding risk",
    },
    Rule {
        a: &[G("levothyroxine")],
        b: &[G("calcium supplements"), G("iron supplements"), G("antacids")],
        severity: 4,
        risk: "calcium, iron and antacids reduce how much levothyroxine is absorbed, so they should be taken at least 4 hours apart",
        risk_short: "reduced absorption",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_ids_round_trip_and_are_unique() {
        for c in Class::ALL {
            assert_eq!(Class::parse(c.id()), Some(c));
            assert_eq!(Class::parse(&c.id().to_uppercase().replace('-', "_")), Some(c));
        }
        let mut ids: Vec<_> = Class::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Class::ALL.len());
        assert_eq!(Class::parse("vitamin"), None);
    }

    #[test]
    fn drugs_are_unique_and_named() {
        let mut generics = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for d in DRUGS {
            assert!(!generics.contains(&d.generic), "duplicate generic {}", d.generic);
            generics.push(d.generic);
            assert!(!d.names.is_empty(), "{}", d.generic);
            for n in d.names {
                let n = n.to_lowercase();
                assert!(!names.contains(&n), "name {n} used twice");
                names.push(n);
            }
        }
        for (name, parts) in COMBOS {
            assert!(!names.contains(&name.to_lowercase()), "combo {name} shadows a drug");
            for p in *parts {
                assert!(generics.contains(p), "combo {name}: unknown generic {p}");
            }
        }
    }

    #[test]
    fn rules_name_known_generics() {
        let generics: Vec<_> = DRUGS.iter().map(|d| d.generic).collect();
        for r in RULES {
            assert!((1..=10).contains(&r.severity));
            assert!(!r.risk.is_empty() && !r.risk_short.is_empty());
            for s in r.a.iter().chain(r.b) {
                if let Sel::G(g) = s {
                    assert!(generics.contains(g), "rule names unknown generic {g}");
                }
            }
        }
    }

    #[test]
    fn the_narrow_therapeutic_index_drugs_are_marked() {
        for g in ["warfarin", "lithium", "digoxin", "phenytoin", "levothyroxine"] {
            assert!(DRUGS.iter().find(|d| d.generic == g).unwrap().nti.is_some(), "{g}");
        }
    }
}
