//! `clinalign score --html` end to end, on the bundled HealthBench rows graded here by a fixed
//! rule (no judge needed): the page is written, well formed, holds every chart with the values
//! of the JSON, escapes a hostile prompt, shows the principle section only for items with
//! provenance and the meta section only for rows with physician labels, and the JSON on
//! stdout is the same with or without `--html`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// The bundled HealthBench rows (9 main-set rows, then 104 consensus rows).
fn healthbench_rows() -> Vec<Value> {
    ["data/healthbench/oss_eval_sample_9.jsonl", "data/healthbench/consensus_context_seeking_104.jsonl"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(repo().join(f))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// Grades every item by a fixed rule, so the scores spread out and some penalties are met.
fn graded(mut rows: Vec<Value>) -> Vec<Value> {
    for (i, row) in rows.iter_mut().enumerate() {
        for (j, item) in row["rubrics"].as_array_mut().unwrap().iter_mut().enumerate() {
            item["criteria_met"] = json!((i * 7 + j * 3) % 5 < 3);
        }
    }
    rows
}

/// A prompt that tries to break out of the page.
const HOSTILE: &str = "<script>alert('x')</script></svg></section><img src=x onerror=alert(1)> is this dose safe?";

fn write_rows(path: &Path, rows: &[Value]) {
    let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

/// Runs `score` with and without `--html`; returns the JSON and the page.
fn score_with_report(input: &Path, html: &Path) -> (Value, String) {
    let plain = run(clinalign().arg("score").arg(input));
    assert!(plain.status.success());
    let o = run(clinalign().arg("score").arg(input).arg("--html").arg(html));
    assert!(o.status.success());
    assert_eq!(o.stdout, plain.stdout, "the JSON on stdout is the same with --html");
    (serde_json::from_slice(&o.stdout).unwrap(), std::fs::read_to_string(html).unwrap())
}

/// Every element opened is closed, in order (void elements and `<x/>` aside), and `<style>`
/// holds no markup: the page parses as a tree.
fn assert_well_formed(html: &str) {
    const VOID: [&str; 2] = ["meta", "br"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html.strip_prefix("<!DOCTYPE html>").expect("a doctype");
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>').expect("a tag ends");
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "a tag inside a tag: {tag}");
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if let Some(end) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(end.trim()), "closing </{end}> out of order");
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name.clone());
        }
        rest = &rest[close + 1..];
        if name == "style" && !tag.starts_with('/') {
            let end = rest.find("</style>").expect("style ends");
            assert!(!rest[..end].contains('<'));
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
}

/// The attributes of every `<rect>` in the chart named `chart`.
fn rects(html: &str, chart: &str) -> Vec<BTreeMap<String, String>> {
    let start = html.find(&format!("data-chart=\"{chart}\"")).unwrap_or_else(|| panic!("no chart {chart}"));
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    svg.match_indices("<rect ")
        .map(|(i, _)| {
            let tag = &svg[i + 6..i + svg[i..].find('>').unwrap()];
            let mut attrs = BTreeMap::new();
            for part in tag.split("\" ") {
                if let Some((k, v)) = part.trim().split_once("=\"") {
                    attrs.insert(k.to_string(), v.trim_end_matches(['"', '/']).to_string());
                }
            }
            attrs
        })
        .collect()
}

fn num(attrs: &BTreeMap<String, String>, key: &str) -> f64 {
    attrs[key].parse().unwrap()
}

/// Every `prefix` metric of the JSON has a bar with its value, interval and n.
fn assert_tag_chart(html: &str, chart: &str, prefix: &str, v: &Value) {
    let metrics = v["metrics"].as_object().unwrap();
    let keys: Vec<&String> = metrics
        .keys()
        .filter(|k| k.starts_with(prefix) && !k.ends_with(":n_samples") && !k.ends_with(":bootstrap_std"))
        .collect();
    assert!(!keys.is_empty(), "{prefix}");
    let bars: Vec<_> = rects(html, chart).into_iter().filter(|r| r["class"].starts_with("bar")).collect();
    assert_eq!(bars.len(), keys.len(), "{chart}: one bar per {prefix} metric");
    for k in keys {
        let bar = bars.iter().find(|b| &b["data-key"] == k).unwrap_or_else(|| panic!("{chart}: no bar for {k}"));
        let (value, std) = (metrics[k].as_f64().unwrap(), metrics[&format!("{k}:bootstrap_std")].as_f64().unwrap());
        assert_eq!(num(bar, "data-value"), value, "{k}");
        assert_eq!(num(bar, "data-low"), (value - 1.96 * std).clamp(0.0, 1.0), "{k}");
        assert_eq!(num(bar, "data-high"), (value + 1.96 * std).clamp(0.0, 1.0), "{k}");
        assert_eq!(num(bar, "data-n"), metrics[&format!("{k}:n_samples")].as_f64().unwrap(), "{k}");
    }
}

/// The page as a browser lays it out: every chart is drawn with a real size and its bars, and
/// nothing is fetched (a file page with no network). The screenshot is kept as an artifact.
fn rendered_in_a_browser(page: &Path) {
    let Some(b) = common::browser::Browser::start("report_with_provenance_and_physician_labels (in the browser)")
    else {
        return;
    };
    b.goto(&format!("file://{}", page.display()));
    let charts = b.run(
        "return [...document.querySelectorAll('svg[data-chart]')].map(s => { const r = s.getBoundingClientRect();
            return { chart: s.dataset.chart, width: r.width, height: r.height,
                     marks: s.querySelectorAll('rect[data-value]').length,
                     title: (s.querySelector('title') || {}).textContent || '' }; })",
        json!([]),
    );
    let charts = charts.as_array().unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c["chart"].as_str().unwrap()).collect();
    assert_eq!(names, ["overall", "by-theme", "by-axis", "by-dimension", "distribution", "principles", "meta"]);
    for c in charts {
        assert!(c["width"].as_f64().unwrap() > 200.0 && c["height"].as_f64().unwrap() > 20.0, "drawn: {c}");
        assert!(c["marks"].as_u64().unwrap() > 0, "bars with values: {c}");
        assert!(!c["title"].as_str().unwrap().is_empty(), "a title: {c}");
    }
    let fetched = b.run("return performance.getEntriesByType('resource').length", json!([]));
    assert_eq!(fetched, json!(0), "the page fetches nothing");
    b.fit_page();
    b.screenshot(&common::browser::artifacts_dir().join("grading-report.png"));
}

#[test]
fn report_of_physician_rubrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = graded(healthbench_rows());
    let turns = rows[0]["prompt"].as_array_mut().unwrap();
    let last = turns.iter_mut().rev().find(|t| t["role"] == "user").unwrap();
    last["content"] = json!(HOSTILE);
    // Nothing met: the hostile row is among the lowest, so its prompt is on the page.
    for item in rows[0]["rubrics"].as_array_mut().unwrap() {
        item["criteria_met"] = json!(false);
    }
    let input = dir.path().join("graded.jsonl");
    write_rows(&input, &rows);
    let (v, html) = score_with_report(&input, &dir.path().join("report.html"));

    assert_well_formed(&html);
    for chart in ["overall", "by-theme", "by-axis", "distribution"] {
        assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
    }
    let overall = &rects(&html, "overall")[0];
    assert_eq!(num(overall, "data-value"), v["score"].as_f64().unwrap());
    let std = v["metrics"]["score:bootstrap_std"].as_f64().unwrap();
    assert_eq!(num(overall, "data-high"), (v["score"].as_f64().unwrap() + 1.96 * std).clamp(0.0, 1.0));
    assert_tag_chart(&html, "by-theme", "theme:", &v);
    assert_tag_chart(&html, "by-axis", "axis:", &v);
    let bins = rects(&html, "distribution");
    assert_eq!(bins.iter().map(|b| num(b, "data-value")).sum::<f64>(), v["n_examples"].as_f64().unwrap());

    assert!(!html.contains("<script") && !html.contains("<img"), "the prompt is text, not markup");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;/svg&gt;&lt;/section&gt;"),
        "shown, escaped"
    );
    assert!(
        !html.contains("http") || html.matches("http").count() == html.matches("http://www.w3.org/2000/svg").count(),
        "nothing fetched"
    );
    assert!(
        html.contains("no rubric item in these rows carries provenance"),
        "physician rubrics: the principle section says why it is empty"
    );
    assert!(!html.contains("data-chart=\"principles\"") && !html.contains("data-chart=\"meta\""));
    assert_eq!(html.matches("<article class=\"example\"").count(), 10, "the ten lowest examples");
}

#[test]
fn report_with_provenance_and_physician_labels() {
    // Tag the main-set rows' items as a synthesized rubric would (real principle ids), and
    // turn the consensus rows' grades into meta rows with two physicians each.
    let principles: Vec<(String, String)> = ["urgency", "uncertainty", "task"]
        .iter()
        .flat_map(|dim| {
            let mut files: Vec<_> =
                std::fs::read_dir(repo().join("principles").join(dim)).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            files.into_iter().take(2).map(move |f| {
                let text = std::fs::read_to_string(f).unwrap();
                let field = |k: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(&format!("{k} = \"")))
                        .unwrap()
                        .trim_end_matches('"')
                        .to_string()
                };
                (dim.to_string(), format!("{}@{}", field("id"), field("version")))
            })
        })
        .collect();
    let all = graded(healthbench_rows());
    let mut rows: Vec<Value> = Vec::new();
    for (i, mut row) in all.iter().take(9).cloned().enumerate() {
        for (j, item) in row["rubrics"].as_array_mut().unwrap().iter_mut().enumerate() {
            let (dim, p) = &principles[(i + j) % principles.len()];
            item["tags"]
                .as_array_mut()
                .unwrap()
                .extend([json!(format!("dimension:{dim}")), json!(format!("principle:{p}"))]);
        }
        rows.push(row);
    }
    let mut meta_rows = 0;
    for (i, row) in all.iter().skip(9).take(40).enumerate() {
        let category = row["example_tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find_map(|t| t.strip_prefix("physician_agreed_category:"))
            .unwrap_or("none")
            .to_string();
        for (j, item) in row["rubrics"].as_array().unwrap().iter().enumerate() {
            let met = item["criteria_met"].as_bool().unwrap();
            rows.push(json!({
                "prompt_id": row["prompt_id"], "criterion": item["criterion"], "criteria_met": met, "category": category,
                "binary_labels": [met ^ ((i + j) % 4 == 0), met ^ ((i + j) % 6 == 1)],
                "anonymized_physician_ids": ["phys-a", "phys-b"],
            }));
            meta_rows += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("graded.jsonl");
    write_rows(&input, &rows);
    let page = dir.path().join("report.html");
    let (v, html) = score_with_report(&input, &page);

    assert_well_formed(&html);
    assert_eq!(v["meta"]["n_rows"], meta_rows);
    rendered_in_a_browser(&page);
    for chart in ["overall", "by-theme", "by-axis", "by-dimension", "distribution", "principles", "meta"] {
        assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
    }
    assert_tag_chart(&html, "by-dimension", "dimension:", &v);
    let bars: Vec<_> = rects(&html, "principles").into_iter().filter(|r| r["class"].starts_with("bar")).collect();
    assert_eq!(bars.len(), principles.len(), "one bar per principle");
    // Effects are shares of each example's positive points: they add up to the mean score.
    let n = v["n_examples"].as_f64().unwrap();
    let shares: f64 = bars.iter().map(|b| num(b, "data-value") * num(b, "data-n") / n).sum();
    let mean = v["metrics"]["overall_score"].as_f64().unwrap();
    assert!((shares - mean).abs() < 1e-9 || mean == 0.0 || mean == 1.0, "{shares} vs {mean} (the mean is clipped)");
    let meta = rects(&html, "meta");
    let overall = meta.iter().find(|r| r["data-key"] == "pairwise_model_f1_balanced").unwrap();
    assert_eq!(num(overall, "data-value"), v["meta"]["score"].as_f64().unwrap());
    for (k, val) in v["meta"]["metrics"].as_object().unwrap() {
        if k.ends_with(": pairwise_model_f1_balanced") {
            let bar = meta.iter().find(|r| &r["data-key"] == k).unwrap_or_else(|| panic!("no meta bar for {k}"));
            assert_eq!(num(bar, "data-value"), val.as_f64().unwrap());
        }
    }
    let baseline = v["meta"]["physician_mean_f1_balanced"].as_f64().unwrap();
    assert!(
        html.contains(&format!("class=\"reference-line\" data-value=\"{baseline}\"")),
        "the physician baseline line"
    );
}
