//! The HTML report of one run (`overbook run --html`, `overbook report
//! RUN.json --html`): what a load-test tool's report shows, over simulated
//! time, plus the invariants checked and, on a failure, the violation and
//! its timeline. One self-contained file: inline CSS, inline SVG charts and
//! a few lines of inline script that only mark the page as rendered.

use super::chart::{colour, Line, LineChart};
use super::{escape, timeline};
use crate::metrics::TimeSeries;
use crate::world::Report;
use std::fmt::Write as _;

/// What the report shows besides the [`Report`] itself.
#[derive(Clone, Debug, Default)]
pub struct ReportPage {
    /// The command that reproduces the run, shown with a violation.
    pub replay_command: Option<String>,
}

/// Runs shorter than this are charted in milliseconds, longer ones in
/// seconds.
const SECONDS_FROM_MS: u64 = 5_000;

/// The x axis: unit name and the divisor from milliseconds.
fn time_axis(series: &TimeSeries, end_ms: u64) -> (&'static str, f64) {
    let span = end_ms.max(series.bucket_ms * series.buckets.len() as u64);
    if span >= SECONDS_FROM_MS {
        ("simulated time (s)", 1000.0)
    } else {
        ("simulated time (ms)", 1.0)
    }
}

/// The charts of a series, as (id, title, chart).
fn charts(report: &Report) -> Vec<(String, String, LineChart<'static>)> {
    let axes = Axes::of(report);
    let ops = axes.series.ops();
    let mut out = vec![(
        "chart-requests".to_string(),
        "Requests completed per second, by operation".to_string(),
        requests_chart(&axes, &ops),
    )];
    for (index, op) in ops.iter().enumerate() {
        out.push((
            format!("chart-latency-{index}"),
            format!("Latency of {op} (simulated ms): p50, p95, p99 per bucket"),
            latency_chart(&axes, op),
        ));
    }
    out.push((
        "chart-statuses".to_string(),
        "Responses per second, by status (timeout: no response)".to_string(),
        statuses_chart(&axes),
    ));
    out.push((
        "chart-retries".to_string(),
        "Retries per second: server transaction retries (40001/40P01), exhausted retry budgets (503), client resends".to_string(),
        axes.chart(
            "per second",
            vec![
                axes.counter("server retries", 0, &|b| b.ops.values().map(|o| o.server_retries).sum()),
                axes.counter("exhausted", 3, &|b| b.ops.values().map(|o| o.retries_exhausted).sum()),
                axes.counter("client resends", 4, &|b| b.client_retries),
            ],
        ),
    ));
    out.push((
        "chart-database".to_string(),
        "Database per second: serialization failures (40001, real and injected), deadlocks (40P01), row-lock waits".to_string(),
        axes.chart(
            "per second",
            vec![
                axes.counter("40001 conflicts", 3, &|b| b.serialization_failures),
                axes.counter("40001 injected", 6, &|b| b.injected_failures),
                axes.counter("40P01 deadlocks", 4, &|b| b.deadlocks),
                axes.counter("lock waits", 0, &|b| b.lock_waits),
            ],
        ),
    ));
    out
}

/// What every chart of a run shares: its buckets on one time axis, with
/// the injected faults marked (F1, F2, ...).
struct Axes<'r> {
    series: &'r TimeSeries,
    x_label: &'static str,
    /// Milliseconds per unit of the x axis.
    divisor: f64,
    bucket_ms: f64,
    x_max: f64,
    marks: Vec<(f64, String)>,
}

impl<'r> Axes<'r> {
    fn of(report: &'r Report) -> Self {
        let series = &report.series;
        let (x_label, divisor) = time_axis(series, report.sim_time_ms);
        let x_max = (series.bucket_ms * series.buckets.len() as u64).max(report.sim_time_ms) as f64
            / divisor;
        let marks = series
            .faults
            .iter()
            .enumerate()
            .map(|(index, f)| (f.at_ms as f64 / divisor, format!("F{}", index + 1)))
            .collect();
        Axes {
            series,
            x_label,
            divisor,
            bucket_ms: series.bucket_ms.max(1) as f64,
            x_max,
            marks,
        }
    }

    /// A bucket's point on the x axis: its middle.
    fn x_of(&self, start_ms: u64) -> f64 {
        (start_ms as f64 + self.bucket_ms / 2.0) / self.divisor
    }

    /// A bucket's count as a rate per second.
    fn rate(&self, value: u64) -> f64 {
        value as f64 * (1000.0 / self.bucket_ms)
    }

    fn chart(&self, y_label: &'static str, lines: Vec<Line>) -> LineChart<'static> {
        LineChart {
            x_label: self.x_label,
            y_label,
            x_max: self.x_max,
            lines,
            marks: self.marks.clone(),
        }
    }

    /// A line of a per-bucket counter, per second.
    fn counter(
        &self,
        label: &str,
        index: usize,
        value: &dyn Fn(&crate::metrics::Bucket) -> u64,
    ) -> Line {
        Line {
            label: label.to_string(),
            colour: colour(index),
            points: self
                .series
                .buckets
                .iter()
                .map(|b| (self.x_of(b.start_ms), self.rate(value(b))))
                .collect(),
        }
    }
}

/// Requests completed per second, a line per operation.
fn requests_chart(axes: &Axes<'_>, ops: &[String]) -> LineChart<'static> {
    let requests: Vec<Line> = ops
        .iter()
        .enumerate()
        .map(|(index, op)| Line {
            label: op.clone(),
            colour: colour(index),
            points: axes
                .series
                .buckets
                .iter()
                .map(|b| {
                    let done = b.ops.get(op).map_or(0, |o| o.completed);
                    (axes.x_of(b.start_ms), axes.rate(done))
                })
                .collect(),
        })
        .collect();
    axes.chart("requests / s", requests)
}

/// `op`'s latency quantiles per bucket, over the buckets that answered it.
fn latency_chart(axes: &Axes<'_>, op: &str) -> LineChart<'static> {
    let quantile =
        |label: &str, colour_index: usize, pick: fn(&crate::metrics::LatencySummary) -> u64| Line {
            label: label.to_string(),
            colour: colour(colour_index),
            points: axes
                .series
                .buckets
                .iter()
                .filter_map(|b| {
                    b.ops
                        .get(op)
                        .filter(|o| o.latency_ms.count > 0)
                        .map(|o| (b, o))
                })
                .map(|(b, o)| (axes.x_of(b.start_ms), pick(&o.latency_ms) as f64))
                .collect(),
        };
    axes.chart(
        "latency (ms)",
        vec![
            quantile("p50", 0, |l| l.p50),
            quantile("p95", 1, |l| l.p95),
            quantile("p99", 3, |l| l.p99),
        ],
    )
}

/// Responses per second, a line per status.
fn statuses_chart(axes: &Axes<'_>) -> LineChart<'static> {
    let statuses: Vec<Line> = axes
        .series
        .statuses()
        .iter()
        .enumerate()
        .map(|(index, status)| Line {
            label: status.clone(),
            colour: colour(index),
            points: axes
                .series
                .buckets
                .iter()
                .map(|b| {
                    let count: u64 = b.ops.values().filter_map(|o| o.statuses.get(status)).sum();
                    (axes.x_of(b.start_ms), axes.rate(count))
                })
                .collect(),
        })
        .collect();
    axes.chart("responses / s", statuses)
}

const STYLE: &str = "body{font-family:sans-serif;margin:20px;color:#222;max-width:1010px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}\
.pass{color:#183;font-weight:bold}.fail{color:#c00;font-weight:bold}\
figure.chart{margin:12px 0;padding:0}figure.chart figcaption{font-size:13px;color:#444;margin-bottom:2px}\
figure.chart svg{display:block;border:1px solid #ddd}\
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}\
.broken{background:#fee}";

/// Records script errors before anything else runs.
const ERROR_HOOK: &str = "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message));});</script>";

/// After load: checks that every chart has drawn marks, records where the
/// charts are and any script error, and marks the page. Headless browser
/// tests read it with `--dump-dom`.
const RENDER_CHECK: &str = "<script>window.addEventListener('load',function(){\
var figures=document.querySelectorAll('figure.chart');var charts=[];var drawn=0;\
figures.forEach(function(f){var svg=f.querySelector('svg');if(!svg){charts.push({id:f.id,drawn:false});return;}\
var r=svg.getBoundingClientRect();var ok=false;\
svg.querySelectorAll('polyline,path,line,circle').forEach(function(m){var b=m.getBBox();if(b.width>0||b.height>0){ok=true;}});\
if(ok){drawn++;}\
charts.push({id:f.id,x:Math.round(r.left+window.scrollX),y:Math.round(r.top+window.scrollY),w:Math.round(r.width),h:Math.round(r.height),drawn:ok});});\
document.getElementById('render-check').textContent=JSON.stringify({charts:charts,drawn:drawn,errors:window.__errors});\
document.documentElement.setAttribute('data-rendered',drawn===figures.length?'ok':'incomplete');});</script>";

/// The report as a self-contained HTML page.
pub fn render(report: &Report, page: &ReportPage) -> String {
    let mut body = String::new();
    let verdict = if report.passed {
        "<span class=pass>PASS</span>"
    } else {
        "<span class=fail>FAIL</span>"
    };
    let _ = write!(
        body,
        "<h1>overbook run: {} — seed {}, variant {} {verdict}</h1>\
<p>Simulated {:.3} s in {} steps (wall {} ms). Users: {} started, {} finished, {} skipped. \
Trace hash <code>{}</code>. Charts: one point per {} ms of simulated time; dashed red lines are faults (listed below the charts).</p>",
        escape(&report.sim),
        report.seed,
        escape(&report.variant),
        report.sim_time_ms as f64 / 1000.0,
        report.steps,
        report.wall_ms,
        report.users.started,
        report.users.finished,
        report.users.skipped,
        escape(&report.trace_hash),
        report.series.bucket_ms,
    );
    if let Some(v) = &report.violation {
        let _ = write!(
            body,
            "<p class=fail>VIOLATION {} at step {}, {} ms simulated: {}</p>",
            escape(&v.invariant),
            v.step,
            v.sim_time_ms,
            escape(&v.message)
        );
    }
    if let Some(err) = &report.harness_error {
        let _ = write!(body, "<p class=fail>HARNESS ERROR: {}</p>", escape(err));
    }
    totals(report, &mut body);
    body.push_str("<h2>Over simulated time</h2>");
    for (id, title, chart) in charts(report) {
        let svg = chart
            .svg()
            .unwrap_or_else(|err| format!("<p class=fail>{}</p>", escape(&err)));
        let _ = write!(
            body,
            "<figure class=chart id=\"{id}\"><figcaption>{}</figcaption>{svg}</figure>",
            escape(&title)
        );
    }
    faults(report, &mut body);
    invariants(report, &mut body);
    history(report, &mut body);
    violation(report, page, &mut body);
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>overbook {} seed {}</title>\
<style>{STYLE}</style>{ERROR_HOOK}</head><body>{body}<pre id=render-check hidden></pre>{RENDER_CHECK}</body></html>\n",
        escape(&report.sim),
        report.seed
    )
}

fn totals(report: &Report, body: &mut String) {
    body.push_str("<h2>Totals</h2><table><tr><th>operation</th><th>requests</th><th>statuses</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>");
    for (op, statuses) in &report.requests.by_op {
        let total: u64 = statuses.values().sum();
        let cells: Vec<String> = statuses.iter().map(|(s, c)| format!("{s}: {c}")).collect();
        let latency = report.latency_ms.get(op).copied().unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{total}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(op),
            escape(&cells.join(", ")),
            latency.p50,
            latency.p95,
            latency.p99,
            latency.max
        );
    }
    let seconds = (report.sim_time_ms as f64 / 1000.0).max(0.001);
    let _ = write!(
        body,
        "</table><p>{} requests, {:.1} per simulated second. Retries: {} server (40001/40P01), {} exhausted, {} client resends. \
Database: {} commits, {} aborts, {} serialization failures ({} injected), {} deadlocks, {} lock waits.</p>",
        report.requests.total,
        report.requests.total as f64 / seconds,
        report.retries.count,
        report.retries.exhausted,
        report.retries.client,
        report.store.committed,
        report.store.aborted,
        report.store.serialization_failures,
        report.store.injected_failures,
        report.store.deadlocks,
        report.store.lock_waits
    );
    if !report.thresholds.is_empty() {
        body.push_str(
            "<table><tr><th>threshold</th><th>condition</th><th>actual</th><th>verdict</th></tr>",
        );
        for t in &report.thresholds {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class={}>{}</td></tr>",
                escape(&t.metric),
                escape(&t.condition),
                t.actual
                    .map_or("unknown metric".to_string(), |v| v.to_string()),
                if t.passed { "pass" } else { "fail" },
                if t.passed { "ok" } else { "FAIL" }
            );
        }
        body.push_str("</table>");
    }
}

fn faults(report: &Report, body: &mut String) {
    if report.series.faults.is_empty() {
        body.push_str("<p>No scheduled faults were applied.</p>");
        return;
    }
    body.push_str("<h2>Faults</h2><table><tr><th>mark</th><th>at (ms)</th><th>fault</th></tr>");
    for (index, fault) in report.series.faults.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>F{}</td><td>{}</td><td>{}</td></tr>",
            index + 1,
            fault.at_ms,
            escape(&fault.what)
        );
    }
    body.push_str("</table>");
}

/// The serializability checker's counts and the anomalies it reported.
fn history(report: &Report, body: &mut String) {
    let history = &report.history;
    if !history.checked {
        body.push_str("<h2>History</h2><p>Not checked (run.check_history = false).</p>");
        return;
    }
    let _ = write!(
        body,
        "<h2>History</h2><p>{} committed transactions checked for serializability in {} searches \
({} pruned once no future cycle could reach them, at most {} kept at once).</p>",
        history.transactions, history.searches, history.pruned, history.window_max
    );
    if history.findings.is_empty() {
        body.push_str("<p>No anomaly that an isolation level allows was seen.</p>");
        return;
    }
    body.push_str(
        "<p>Anomalies that their transactions' isolation level allows (reported, not failures):</p>\
<table><tr><th>anomaly</th><th>allowed at</th><th>step</th><th>at (ms)</th><th>transactions</th><th>cycle</th></tr>",
    );
    for finding in &history.findings {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&finding.anomaly),
            escape(&finding.allowed_by),
            finding.step,
            finding.sim_time_ms,
            escape(&finding.transactions.join(", ")),
            escape(&finding.cycle)
        );
    }
    body.push_str("</table>");
    if history.findings_dropped > 0 {
        let _ = write!(body, "<p>... and {} more.</p>", history.findings_dropped);
    }
}

fn invariants(report: &Report, body: &mut String) {
    let _ = write!(
        body,
        "<h2>Invariants checked</h2><p>{} checker evaluations (after every commit and response, and at the end).</p>\
<table><tr><th>invariant</th><th>times checked</th><th>verdict</th></tr>",
        report.invariant_evaluations
    );
    let broken = report.violation.as_ref().map(|v| v.invariant.as_str());
    let mut names: Vec<(&str, u64)> = report
        .invariants_checked
        .iter()
        .map(|(n, c)| (n.as_str(), *c))
        .collect();
    if let Some(name) = broken {
        if !report.invariants_checked.contains_key(name) {
            names.push((name, 1));
        }
    }
    for (name, count) in names {
        let failed = broken == Some(name);
        let _ = write!(
            body,
            "<tr{}><td>{}</td><td>{count}</td><td class={}>{}</td></tr>",
            if failed { " class=broken" } else { "" },
            escape(name),
            if failed { "fail" } else { "pass" },
            if failed { "BROKEN" } else { "held" }
        );
    }
    body.push_str("</table>");
}

fn violation(report: &Report, page: &ReportPage, body: &mut String) {
    let Some(v) = &report.violation else {
        return;
    };
    let _ = write!(
        body,
        "<h2 id=violation>Violation: {}</h2><p>At step {}, {} ms of simulated time: {}</p>",
        escape(&v.invariant),
        v.step,
        v.sim_time_ms,
        escape(&v.message)
    );
    if let Some(command) = &page.replay_command {
        let _ = write!(body, "<p>Reproduce: <code>{}</code></p>", escape(command));
    }
    if report.trace.is_empty() {
        body.push_str("<p>This report has no trace, so no timeline: <code>overbook replay ... --timeline FILE.html</code> draws one.</p>");
    } else {
        let _ = write!(
            body,
            "<h2>Timeline up to the violation</h2><figure class=chart id=chart-timeline><figcaption>Requests (arrows), commits (database lane) and faults; hover for details.</figcaption>{}</figure>",
            timeline::svg(report)
        );
    }
    body.push_str("<h2>Events just before it</h2><pre>");
    for event in &v.recent_events {
        body.push_str(&escape(event));
        body.push('\n');
    }
    body.push_str("</pre>");
}
