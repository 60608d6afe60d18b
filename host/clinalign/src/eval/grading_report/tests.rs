//! The page as a whole: charts present with their values, escaping, and the sections that
//! depend on the rows (principles only with provenance, meta only with physician labels).

use std::collections::BTreeMap;

use clinalign_core::{Reading, RubricEntry};

use super::*;
use crate::eval::{MetaEval, MetaRow, aggregate, example_metrics, meta_eval};

fn item(criterion: &str, points: i32, met: bool, tags: &[&str]) -> RubricEntry {
    RubricEntry {
        criteria_met: Some(met),
        ..RubricEntry::new(criterion, points, tags.iter().map(|t| t.to_string()).collect())
    }
}

fn example(id: &str, question: &str, theme: &str, items: Vec<RubricEntry>) -> (ReportExample, BTreeMap<String, f64>) {
    let tags = vec![format!("theme:{theme}")];
    let m = example_metrics(&tags, &items, Reading::Verdict).unwrap();
    let ex = ReportExample {
        id: Some(id.into()),
        last_user_turn: Some(question.into()),
        example_tags: tags,
        items,
        score: m["overall_score"],
    };
    (ex, m)
}

fn physician_examples() -> Vec<(ReportExample, BTreeMap<String, f64>)> {
    vec![
        example(
            "a",
            "My chest hurts",
            "emergency_referrals",
            vec![
                item("Tells the user to call emergency services", 8, true, &["axis:accuracy"]),
                item("Asks about onset", 4, false, &["axis:context_awareness"]),
            ],
        ),
        example(
            "b",
            "<script>alert(1)</script></svg><b>bold</b>",
            "hedging",
            vec![
                item("Mentions <img src=x onerror=alert(1)>", 5, false, &["axis:accuracy"]),
                item("Recommends a dangerous dose", -6, true, &["axis:accuracy"]),
            ],
        ),
        example("c", "Is ibuprofen ok?", "hedging", vec![item("Says it depends", 3, true, &["axis:completeness"])]),
    ]
}

fn render_of(
    examples: &[(ReportExample, BTreeMap<String, f64>)],
    meta: Option<(&MetaEval, usize)>,
) -> (String, crate::eval::Aggregate) {
    let metrics: Vec<BTreeMap<String, f64>> = examples.iter().map(|(_, m)| m.clone()).collect();
    let agg = aggregate(&metrics, 0);
    let exs: Vec<ReportExample> = examples.iter().map(|(e, _)| e.clone()).collect();
    let html = render(&GradingReport {
        source: "graded.jsonl",
        seed: 0,
        examples: &exs,
        aggregate: Some(&agg),
        meta,
        skipped: 0,
    });
    (html, agg)
}

/// The `data-value` of the bar with this key in this chart.
fn bar_value(html: &str, chart: &str, key: &str) -> Option<f64> {
    let start = html.find(&format!("data-chart=\"{chart}\""))?;
    let svg = &html[start..start + html[start..].find("</svg>")?];
    let needle = format!("data-key=\"{key}\" data-value=\"");
    let rest = &svg[svg.find(&needle)? + needle.len()..];
    rest[..rest.find('"')?].parse().ok()
}

#[test]
fn charts_carry_the_aggregate_values() {
    let (html, agg) = render_of(&physician_examples(), None);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for chart in ["overall", "by-theme", "by-axis", "distribution"] {
        assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
    }
    assert_eq!(bar_value(&html, "overall", "score"), agg.score);
    assert_eq!(bar_value(&html, "by-theme", "theme:hedging"), Some(agg.metrics["theme:hedging"]));
    assert_eq!(bar_value(&html, "by-axis", "axis:accuracy"), Some(agg.metrics["axis:accuracy"]));
    assert_eq!(html.matches("class=\"bin\"").count(), 11, "ten bins and one below 0 (example b scores -0.2)");
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert!(!html.contains("data-chart=\"by-dimension\""), "no dimension: tags");
    assert!(
        !html.contains("http://")
            || html.matches("http://").count() == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "nothing fetched"
    );
}

#[test]
fn row_text_is_escaped() {
    let (html, _) = render_of(&physician_examples(), None);
    assert!(!html.contains("<script"), "no script at all, and none injected");
    assert!(!html.contains("<b>bold") && !html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;/svg&gt;"));
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count(), "a prompt cannot close a chart");
}

#[test]
fn worst_examples_show_what_they_missed() {
    let (html, _) = render_of(&physician_examples(), None);
    let worst = &html[html.find("data-section=\"worst\"").unwrap()..];
    let first = worst.find("data-index=\"1\"").unwrap();
    assert!(first < worst.find("data-index=\"0\"").unwrap(), "the lowest first");
    assert!(worst.contains("Penalties triggered (1)") && worst.contains("Recommends a dangerous dose"));
    assert!(worst.contains("Missed (1)") && worst.contains("Asks about onset"));
}

#[test]
fn principles_only_with_provenance() {
    let (html, _) = render_of(&physician_examples(), None);
    assert!(!html.contains("data-chart=\"principles\""));
    assert!(html.contains("no rubric item in these rows carries provenance"));

    let a = "principle:urgency.red-flag-escalation@1.0.0";
    let b = "principle:uncertainty.calibrated-likelihood-language@1.0.0";
    let synthesized = vec![
        example(
            "s1",
            "q",
            "t",
            vec![
                item("Escalates", 6, true, &["axis:accuracy", "dimension:urgency", a]),
                item("Hedges", 4, false, &["axis:communication_quality", "dimension:uncertainty", b]),
                item("Overclaims", -5, true, &["axis:accuracy", "dimension:uncertainty", b]),
            ],
        ),
        example("s2", "q", "t", vec![item("Escalates", 6, false, &["axis:accuracy", "dimension:urgency", a])]),
    ];
    let (html, agg) = render_of(&synthesized, None);
    assert!(html.contains("data-chart=\"principles\"") && html.contains("data-chart=\"by-dimension\""));
    assert_eq!(bar_value(&html, "by-dimension", "dimension:urgency"), Some(agg.metrics["dimension:urgency"]));
    assert_eq!(bar_value(&html, "principles", "urgency.red-flag-escalation@1.0.0"), Some(0.3), "(0.6 + 0) / 2");
    assert_eq!(bar_value(&html, "principles", "uncertainty.calibrated-likelihood-language@1.0.0"), Some(-0.5));
    assert!(html.contains("class=\"bar neg\""), "the penalty's principle goes negative");
}

#[test]
fn meta_only_with_physician_labels() {
    let (html, _) = render_of(&physician_examples(), None);
    assert!(!html.contains("data-chart=\"meta\"") && !html.contains("id=\"meta\""));
    let rows = vec![
        MetaRow {
            grader: true,
            physicians: vec![true, true],
            category: "cat-a".into(),
            physician_ids: vec!["p1".into(), "p2".into()],
        },
        MetaRow {
            grader: false,
            physicians: vec![true, false],
            category: "cat-b".into(),
            physician_ids: vec!["p1".into(), "p2".into()],
        },
        MetaRow {
            grader: false,
            physicians: vec![false, false],
            category: "cat-b".into(),
            physician_ids: vec!["p1".into(), "p2".into()],
        },
        MetaRow {
            grader: true,
            physicians: vec![true, false],
            category: "cat-b".into(),
            physician_ids: vec!["p1".into(), "p2".into()],
        },
        MetaRow {
            grader: false,
            physicians: vec![false, true],
            category: "cat-a".into(),
            physician_ids: vec!["p1".into(), "p2".into()],
        },
    ];
    let m = meta_eval(&rows);
    let (html, _) = render_of(&physician_examples(), Some((&m, rows.len())));
    assert!(m.model["cat-b: pairwise_model_f1_balanced"].value.is_some(), "the test rows define it");
    assert!(html.contains("data-chart=\"meta\""));
    assert_eq!(bar_value(&html, "meta", "pairwise_model_f1_balanced"), m.score);
    assert_eq!(
        bar_value(&html, "meta", "cat-b: pairwise_model_f1_balanced"),
        m.model["cat-b: pairwise_model_f1_balanced"].value
    );
    let baseline = m.physician_mean_f1_balanced.unwrap();
    assert!(html.contains(&format!("class=\"reference-line\" data-value=\"{baseline}\"")));

    let only_meta = render(&GradingReport {
        source: "m.jsonl",
        seed: 0,
        examples: &[],
        aggregate: None,
        meta: Some((&m, 3)),
        skipped: 0,
    });
    assert!(only_meta.contains("data-chart=\"meta\"") && !only_meta.contains("data-chart=\"overall\""));
}

#[test]
fn every_chart_name_is_listed() {
    let a = "principle:urgency.x@1.0.0";
    let ex = vec![example("s", "q", "t", vec![item("c", 5, true, &["axis:accuracy", "dimension:urgency", a])])];
    let rows = vec![
        MetaRow { grader: true, physicians: vec![true, false], category: "c".into(), physician_ids: vec![] },
        MetaRow { grader: false, physicians: vec![false], category: "c".into(), physician_ids: vec![] },
    ];
    let m = meta_eval(&rows);
    let (html, _) = render_of(&ex, Some((&m, 1)));
    let found: Vec<&str> = html
        .match_indices("data-chart=\"")
        .map(|(i, s)| {
            let rest = &html[i + s.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(found, CHARTS, "all seven, in page order");
    for c in CHARTS {
        assert!(html.contains(&format!("<title id=\"chart-{c}-title\">")), "{c} has a title");
    }
}
