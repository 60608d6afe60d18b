//! The grading report as one self-contained HTML page: inline CSS, inline SVG charts, no
//! script and nothing fetched. Sections: the overall score, scores by theme, axis and
//! dimension, the distribution of example scores, what each principle did (rows with
//! provenance), the worst examples, and the grader against physicians (rows with physician
//! labels).

use clinalign_core::RubricEntry;

use super::charts::{Bar, BarChart, bar_chart, histogram_chart, nice_ceiling};
use super::markup::{data_number, escape, percent_text, score_text, signed_text, truncate};
use super::summary::{
    Estimate, GradingReport, ReportExample, Z95, estimate, histogram, meta_categories, principle_stats, tag_group,
    untagged_items, worst,
};
use crate::eval::meta::MetaEval;

/// How many of the lowest-scoring examples the report lists.
pub const WORST_EXAMPLES: usize = 10;
/// Characters of a last user turn shown.
const QUESTION_CHARS: usize = 420;
/// Characters of a criterion shown.
const CRITERION_CHARS: usize = 300;
/// Items listed per example and kind before "and k more".
const ITEMS_SHOWN: usize = 8;

const STYLE: &str = r#"
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bar: #3e6fa8; --neg: #c2493d; --ghost: #d9e3f0; --ref: #c7831f; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 28px 20px 64px; }
h1 { font-size: 1.6rem; margin: 0 0 2px; }
h2 { font-size: 1.15rem; margin: 0 0 4px; }
h3 { font-size: 1rem; margin: 0; }
.sub, .note { color: var(--muted); }
.note { font-size: .9rem; margin: 2px 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; margin: 18px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 18px; min-width: 170px; }
.card .big { font-size: 2rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .what { color: var(--muted); font-size: .85rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px; margin: 16px 0; }
svg.chart { display: block; width: 100%; height: auto; max-width: 760px; }
svg text { font-family: inherit; font-size: 12px; fill: var(--ink); }
svg text.tick, svg text.caption, svg text.value { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
svg text.count { font-size: 11px; }
svg text.reference-label { fill: var(--ref); font-size: 11px; }
svg .grid { stroke: var(--line); }
svg .axis { stroke: #9aa5b1; }
svg rect.bar, svg rect.bin { fill: var(--bar); }
svg rect.bar.neg { fill: var(--neg); }
svg rect.ghost { fill: var(--ghost); }
svg .whisker { stroke: var(--ink); stroke-width: 1.4; }
svg .reference { stroke: var(--ref); stroke-width: 2; stroke-dasharray: 5 4; }
svg g.row:hover text.label { font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; font-variant-numeric: tabular-nums; margin-top: 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
article.example { border-top: 1px solid var(--line); padding: 12px 0 6px; }
article.example .tags { color: var(--muted); font-size: .85rem; }
blockquote { margin: 6px 0; padding: 6px 12px; background: #f5f7fa; border-left: 3px solid #cbd2d9; white-space: pre-wrap; }
ul.items { margin: 2px 0 6px; padding-left: 22px; }
ul.items li { margin: 2px 0; }
.pts { display: inline-block; min-width: 2.6em; font-weight: 650; font-variant-numeric: tabular-nums; }
.pen .pts { color: var(--neg); }
.kind { font-size: .85rem; font-weight: 600; color: var(--muted); margin-top: 6px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
@media print { body { background: #fff; } section { break-inside: avoid; } }
"#;

/// Renders the report: one HTML document, every row text escaped.
pub fn render(report: &GradingReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
            <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out += &format!(
        "<title>Grading report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(report.source)
    );
    header(&mut out, report);
    match report.aggregate {
        Some(agg) if !report.examples.is_empty() => {
            let overall = estimate(agg, "score");
            if let Some(e) = &overall {
                overall_section(&mut out, e, report.seed);
            }
            tag_section(
                &mut out,
                agg,
                "theme:",
                "by-theme",
                "Score by theme",
                "Each example counts toward its <code>theme:</code> tags with its overall score.",
                "No example carries a <code>theme:</code> tag.",
            );
            tag_section(
                &mut out,
                agg,
                "axis:",
                "by-axis",
                "Score by axis",
                "An axis scores only the items tagged with it: Σ points of its met items / Σ its positive points, in every example with a positive item on it.",
                "No rubric item carries an <code>axis:</code> tag.",
            );
            if !tag_group(agg, "dimension:").is_empty() {
                tag_section(
                    &mut out,
                    agg,
                    "dimension:",
                    "by-dimension",
                    "Score by clinical dimension",
                    "Items of synthesized rubrics carry the dimension of the principle that wrote them.",
                    "",
                );
            }
            distribution_section(&mut out, report.examples);
            principles_section(&mut out, report.examples);
            worst_section(&mut out, report.examples);
        }
        _ => {
            out += "<section id=\"examples\"><h2>Examples</h2><p class=\"note\">No graded examples in these rows, so there is no HealthBench score; only the meta-evaluation below.</p></section>\n"
        }
    }
    if let Some((meta, rows)) = report.meta {
        meta_section(&mut out, meta, rows);
    }
    out += "<p class=\"note\">Written by <code>clinalign score --html</code>. The same numbers are in the JSON it prints.</p>\n</main>\n</body>\n</html>\n";
    out
}

fn header(out: &mut String, r: &GradingReport) {
    *out += "<header>\n<h1>Grading report</h1>\n";
    let mut facts = vec![format!("<code>{}</code>", escape(r.source)), format!("{} examples", r.examples.len())];
    if let Some((_, rows)) = r.meta {
        facts.push(format!("{rows} meta-evaluation rows"));
    }
    facts.push(format!("bootstrap seed {}", r.seed));
    if r.skipped > 0 {
        facts.push(format!("{} invalid rows skipped", r.skipped));
    }
    *out += &format!("<p class=\"sub\">{}</p>\n<div class=\"cards\">\n", facts.join(" · "));
    if let Some(e) = r.aggregate.and_then(|a| estimate(a, "score")) {
        *out += &format!(
            "<div class=\"card\" data-card=\"score\" data-value=\"{v}\"><div class=\"what\">HealthBench score</div><div class=\"big\">{t}</div><div class=\"what\">95% interval {l} – {h}</div></div>\n",
            v = data_number(e.value),
            t = score_text(e.value),
            l = score_text(e.low),
            h = score_text(e.high)
        );
    }
    if !r.examples.is_empty() {
        *out += &format!(
            "<div class=\"card\" data-card=\"examples\" data-value=\"{n}\"><div class=\"what\">graded examples</div><div class=\"big\">{n}</div><div class=\"what\">{items} rubric items</div></div>\n",
            n = r.examples.len(),
            items = r.examples.iter().map(|e| e.items.len()).sum::<usize>()
        );
    }
    if let Some((m, _)) = r.meta
        && let Some(f1) = m.score
    {
        let baseline = m
            .physician_mean_f1_balanced
            .map(|b| format!("physicians {}", score_text(b)))
            .unwrap_or_else(|| "no physician baseline".into());
        *out += &format!(
            "<div class=\"card\" data-card=\"meta\" data-value=\"{v}\"><div class=\"what\">grader vs physicians, balanced F1</div><div class=\"big\">{t}</div><div class=\"what\">{baseline}</div></div>\n",
            v = data_number(f1),
            t = score_text(f1)
        );
    }
    *out += "</div>\n</header>\n";
}

fn interval_bar(e: &Estimate, label: &str) -> Bar {
    Bar {
        key: e.key.clone(),
        label: label.to_string(),
        value: e.value,
        interval: Some((e.low, e.high)),
        ghost: None,
        n: Some(e.n),
        value_text: format!("{}  n={}", score_text(e.value), e.n),
        tooltip: format!(
            "{label}: {} (95% interval {} – {}), n = {}",
            score_text(e.value),
            score_text(e.low),
            score_text(e.high),
            e.n
        ),
    }
}

fn overall_section(out: &mut String, e: &Estimate, seed: u64) {
    *out += "<section id=\"overall\">\n<h2>Overall score</h2>\n";
    *out += &format!(
        "<p class=\"note\">The mean of the per-example scores (Σ points of met items / Σ positive points) clipped to [0, 1], as simple-evals computes it: <strong>{v}</strong>, 95% interval {l} – {h} (score ± {Z95} × bootstrap std {s}, 1,000 resamples, seed {seed}, clipped to [0, 1]).</p>\n",
        v = score_text(e.value),
        l = score_text(e.low),
        h = score_text(e.high),
        s = score_text(e.std)
    );
    let bars = [interval_bar(e, "all examples")];
    *out += &bar_chart(&BarChart {
        chart: "overall",
        title: "Overall HealthBench score with its 95% interval",
        domain: (0.0, 1.0),
        bars: &bars,
        reference: None,
        axis_label: "score",
    });
    *out += "\n</section>\n";
}

fn tag_section(
    out: &mut String,
    agg: &crate::eval::scoring::Aggregate,
    prefix: &str,
    chart: &str,
    title: &str,
    note: &str,
    none: &str,
) {
    *out += &format!("<section id=\"{chart}\">\n<h2>{title}</h2>\n");
    let group = tag_group(agg, prefix);
    if group.is_empty() {
        *out += &format!("<p class=\"note\">{none}</p>\n</section>\n");
        return;
    }
    *out += &format!("<p class=\"note\">{note} Bars: clipped mean; whiskers: 95% interval; n: examples.</p>\n");
    let bars: Vec<Bar> = group.iter().map(|e| interval_bar(e, e.key.strip_prefix(prefix).unwrap_or(&e.key))).collect();
    *out +=
        &bar_chart(&BarChart { chart, title, domain: (0.0, 1.0), bars: &bars, reference: None, axis_label: "score" });
    *out += "\n</section>\n";
}

fn distribution_section(out: &mut String, examples: &[ReportExample]) {
    let scores: Vec<f64> = examples.iter().map(|e| e.score).collect();
    let mut sorted = scores.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    let perfect = scores.iter().filter(|s| **s >= 1.0).count();
    let below = scores.iter().filter(|s| **s < 0.0).count();
    *out += "<section id=\"distribution\">\n<h2>Distribution of example scores</h2>\n";
    *out += &format!(
        "<p class=\"note\">Per-example scores in bins of 0.1 (not clipped: met penalties can take an example below 0). Median {}; {perfect} of {} examples score 1; {below} below 0.</p>\n",
        score_text(median),
        scores.len()
    );
    *out += &histogram_chart(
        "distribution",
        "Distribution of per-example scores",
        &histogram(&scores, 10),
        "example score",
    );
    *out += "\n</section>\n";
}

fn principles_section(out: &mut String, examples: &[ReportExample]) {
    *out += "<section id=\"principles\">\n<h2>Principles</h2>\n";
    let stats = principle_stats(examples);
    if stats.is_empty() {
        *out += "<p class=\"note\">Skipped: no rubric item in these rows carries provenance (a <code>principle:&lt;id&gt;@&lt;version&gt;</code> tag). Physician-written HealthBench rubrics have none; rubrics written by <code>clinalign synthesize</code> and graded by <code>clinalign grade</code> do.</p>\n</section>\n";
        return;
    }
    let (untagged, all) = untagged_items(examples);
    *out += "<p class=\"note\">For each principle, over the examples whose rubric has its items: <em>effect</em> = mean of Σ points × met of its items / the example's Σ positive points, the part of those examples' scores it accounts for (penalties count negative); the faint bar is the most it could have added. <em>Share</em> = Σ effects / all examples: the shares add up to the mean (unclipped) score.";
    if untagged > 0 {
        *out += &format!(
            " {untagged} of {all} items carry no principle tag (physician or hand-written items) and are left out here."
        );
    }
    *out += "</p>\n";
    // Four tick steps of a nice size: the ticks land on round numbers.
    let d = 4.0 * nice_ceiling(stats.iter().map(|p| p.effect.abs().max(p.possible)).fold(0.0, f64::max) / 4.0);
    let lo = if stats.iter().any(|p| p.effect < 0.0) { -d } else { 0.0 };
    let bars: Vec<Bar> = stats
        .iter()
        .map(|p| Bar {
            key: p.principle.clone(),
            label: p.principle.split('@').next().unwrap_or(&p.principle).to_string(),
            value: p.effect,
            interval: None,
            ghost: Some(p.possible),
            n: Some(p.examples),
            value_text: format!("{}  n={}", signed_text(p.effect), p.examples),
            tooltip: format!(
                "{}: effect {} of a possible {} in {} examples; items met {}",
                p.principle,
                signed_text(p.effect),
                score_text(p.possible),
                p.examples,
                p.met_rate.map(percent_text).unwrap_or_else(|| "–".into())
            ),
        })
        .collect();
    *out += &bar_chart(&BarChart {
        chart: "principles",
        title: "Effect of each principle's items on the scores of the examples they appear in",
        domain: (lo, d),
        bars: &bars,
        reference: None,
        axis_label: "effect on the example score",
    });
    *out += "\n<table data-table=\"principles\">\n<thead><tr><th>principle</th><th class=\"num\">examples</th><th class=\"num\">items met</th><th class=\"num\">penalties triggered</th><th class=\"num\">effect</th><th class=\"num\">could add</th><th class=\"num\">share</th></tr></thead>\n<tbody>\n";
    for p in &stats {
        let rate =
            |n: usize, r: Option<f64>| r.map(|r| format!("{} of {n}", percent_text(r))).unwrap_or_else(|| "–".into());
        *out += &format!(
            "<tr data-key=\"{k}\"><td><code>{k}</code></td><td class=\"num\">{e}</td><td class=\"num\">{m}</td><td class=\"num\">{pen}</td><td class=\"num\">{ef}</td><td class=\"num\">{po}</td><td class=\"num\">{sh}</td></tr>\n",
            k = escape(&p.principle),
            e = p.examples,
            m = rate(p.positive_items, p.met_rate),
            pen = rate(p.penalties, p.penalty_rate),
            ef = signed_text(p.effect),
            po = score_text(p.possible),
            sh = signed_text(p.share)
        );
    }
    *out += "</tbody>\n</table>\n</section>\n";
}

fn item_line(item: &RubricEntry) -> String {
    let pts = if item.points > 0 { format!("+{}", item.points) } else { format!("\u{2212}{}", -item.points) };
    let mut about: Vec<String> = Vec::new();
    if let Some(a) = item.tag_value("axis:") {
        about.push(escape(a));
    }
    if let Some(p) = item.tag_value("principle:") {
        about.push(format!("<code>{}</code>", escape(p)));
    }
    if let Some(p) = item.p_met {
        about.push(format!("p_met {p:.2}"));
    }
    let about =
        if about.is_empty() { String::new() } else { format!(" <span class=\"sub\">({})</span>", about.join(", ")) };
    format!("<span class=\"pts\">{pts}</span> {}{about}", escape(&truncate(&item.criterion, CRITERION_CHARS)))
}

fn item_list(out: &mut String, kind: &str, class: &str, items: &[&RubricEntry]) {
    if items.is_empty() {
        return;
    }
    *out += &format!("<div class=\"kind\">{kind} ({})</div>\n<ul class=\"items {class}\">\n", items.len());
    for item in items.iter().take(ITEMS_SHOWN) {
        *out += &format!("<li>{}</li>\n", item_line(item));
    }
    if items.len() > ITEMS_SHOWN {
        *out += &format!("<li class=\"sub\">and {} more</li>\n", items.len() - ITEMS_SHOWN);
    }
    *out += "</ul>\n";
}

fn worst_section(out: &mut String, examples: &[ReportExample]) {
    let list = worst(examples, WORST_EXAMPLES);
    *out += &format!(
        "<section id=\"worst\" data-section=\"worst\">\n<h2>Lowest-scoring examples</h2>\n<p class=\"note\">The {} lowest per-example scores, with the positive items the response missed and the penalties it triggered (an item counts as met at met ≥ 0.5).</p>\n",
        list.len()
    );
    for (rank, w) in list.iter().enumerate() {
        let ex = w.example;
        let name = ex
            .id
            .as_deref()
            .map(|id| format!("<code>{}</code>", escape(id)))
            .unwrap_or_else(|| format!("example {}", w.index + 1));
        *out += &format!(
            "<article class=\"example\" data-index=\"{i}\" data-score=\"{s}\">\n<h3>{r}. {name} · score {st}</h3>\n",
            i = w.index,
            s = data_number(ex.score),
            r = rank + 1,
            st = score_text(ex.score)
        );
        if !ex.example_tags.is_empty() {
            let tags: Vec<String> = ex.example_tags.iter().map(|t| escape(t)).collect();
            *out += &format!("<div class=\"tags\">{}</div>\n", tags.join(" · "));
        }
        if let Some(q) = &ex.last_user_turn {
            *out += &format!("<blockquote>{}</blockquote>\n", escape(&truncate(q, QUESTION_CHARS)));
        }
        item_list(out, "Missed", "miss", &w.unmet);
        item_list(out, "Penalties triggered", "pen", &w.penalties);
        if w.unmet.is_empty() && w.penalties.is_empty() {
            *out += "<p class=\"note\">Nothing missed outright (soft grades below 1 lowered the score).</p>\n";
        }
        *out += "</article>\n";
    }
    *out += "</section>\n";
}

fn meta_section(out: &mut String, meta: &MetaEval, rows: usize) {
    *out += "<section id=\"meta\">\n<h2>Grader vs physicians</h2>\n";
    *out += &format!(
        "<p class=\"note\">{rows} rows with physician labels (<code>binary_labels</code>). Every (grader, physician) label pair counts: precision by the grader's label, recall by the physician's, F1 per class; balanced F1 is the mean of the two classes. The dashed line is the physician baseline: each physician against the other physicians of the same rows, averaged.</p>\n"
    );
    let mut bars = Vec::new();
    // `prefix` is "" or "{category}: "; n counts the (grader, physician) label pairs, each
    // once (precision buckets every pair by the grader's label).
    let f1_bar = |prefix: &str, label: &str| -> Option<Bar> {
        let key = format!("{prefix}pairwise_model_f1_balanced");
        let v = meta.model.get(&key)?.value?;
        let pairs: f64 = ["pos", "neg"]
            .iter()
            .filter_map(|c| meta.model.get(&format!("{prefix}pairwise_model_precision_{c}")))
            .map(|r| r.n)
            .sum();
        Some(Bar {
            key,
            label: label.to_string(),
            value: v,
            interval: None,
            ghost: None,
            n: Some(pairs as usize),
            value_text: format!("{}  pairs={pairs}", score_text(v)),
            tooltip: format!("{label}: balanced F1 {} over {pairs} label pairs", score_text(v)),
        })
    };
    if let Some(b) = f1_bar("", "all rows") {
        bars.push(b);
    }
    for (cat, _) in meta_categories(meta) {
        let label = if cat.is_empty() { "(no category)".to_string() } else { cat.clone() };
        if let Some(b) = f1_bar(&format!("{cat}: "), &label) {
            bars.push(b);
        }
    }
    if bars.is_empty() {
        *out += "<p class=\"note\">No balanced F1 is defined: the labels hold only one class.</p>\n";
    } else {
        let reference_label = meta.physician_mean_f1_balanced.map(|b| format!("physicians {}", score_text(b)));
        *out += &bar_chart(&BarChart {
            chart: "meta",
            title: "Grader vs physicians: balanced F1, overall and by category",
            domain: (0.0, 1.0),
            bars: &bars,
            reference: meta.physician_mean_f1_balanced.zip(reference_label.as_deref()),
            axis_label: "balanced F1",
        });
        *out += "\n";
    }
    *out += "<table data-table=\"meta\">\n<thead><tr><th>class</th><th class=\"num\">precision</th><th class=\"num\">recall</th><th class=\"num\">F1</th></tr></thead>\n<tbody>\n";
    for (class, name) in [("pos", "met (positive)"), ("neg", "not met (negative)"), ("balanced", "balanced (macro)")] {
        let cell = |metric: &str| {
            meta.model
                .get(&format!("pairwise_model_{metric}_{class}"))
                .and_then(|r| r.value)
                .map(score_text)
                .unwrap_or_else(|| "–".into())
        };
        *out += &format!(
            "<tr><td>{name}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            cell("precision"),
            cell("recall"),
            cell("f1")
        );
    }
    *out += "</tbody>\n</table>\n";
    let physicians = meta.physicians.len();
    *out += &match meta.physician_mean_f1_balanced {
        Some(b) => format!("<p class=\"note\">Physician baseline: mean balanced F1 {} over {physicians} physicians.</p>\n", score_text(b)),
        None => "<p class=\"note\">No physician baseline: the rows carry no <code>anonymized_physician_ids</code> (or too few shared rows).</p>\n".to_string(),
    };
    *out += "</section>\n";
}
