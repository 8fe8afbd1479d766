//! A self-contained HTML sequence diagram of a traced run
//! (`overbook replay --timeline`, and the failure section of the HTML
//! report): clients, the API and the database as lanes; requests and
//! responses as arrows; commits and faults as marks; the violation at the
//! bottom.

use super::escape;
use crate::world::{Report, TraceEvent};
use std::fmt::Write as _;

/// Events shown at most: the last ones before the end (the violation).
const MAX_EVENTS: usize = 300;
/// Client lanes at most: the clients in the shown events, most active first.
const MAX_CLIENTS: usize = 16;

/// The sequence diagram of `report.trace` (the last events before the
/// end) as an inline `<svg>` element; empty lanes when the run was not
/// traced.
pub fn svg(report: &Report) -> String {
    let events: Vec<&TraceEvent> = report.trace.iter().rev().take(MAX_EVENTS).rev().collect();
    let layout = Layout::of(&events);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="monospace" font-size="11">"#,
        layout.width,
        layout.height + 120.0
    );
    let mut lane = |x: f64, label: &str| {
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="40" x2="{x}" y2="{}" stroke="#bbb"/><text x="{x}" y="30" text-anchor="middle" font-weight="bold">{}</text>"##,
            layout.height + 70.0,
            escape(label)
        );
    };
    for (client, _) in &layout.clients {
        let x = layout
            .client_x(*client)
            .expect("every shown client has a lane");
        lane(x, &format!("client {client}"));
    }
    lane(layout.api_x, "API servers");
    lane(layout.db_x, "database");
    for event in &events {
        draw_event(&mut svg, &layout, event);
    }
    svg.push_str(r##"<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L0,6 L7,3 z" fill="#555"/></marker></defs></svg>"##);
    svg
}

/// Where the diagram puts things: a lane per shown client, then the API
/// and the database; time running down from the first event shown.
struct Layout {
    /// The shown clients (the most active, at most [`MAX_CLIENTS`]), in
    /// client order, with their request counts.
    clients: Vec<(u32, usize)>,
    lane_width: f64,
    api_x: f64,
    db_x: f64,
    width: f64,
    /// The first and last instants shown, in ms.
    t0: u64,
    t1: u64,
    height: f64,
}

impl Layout {
    fn of(events: &[&TraceEvent]) -> Layout {
        let mut activity: std::collections::BTreeMap<u32, usize> =
            std::collections::BTreeMap::new();
        for event in events {
            if let TraceEvent::Request { client, .. } = event {
                *activity.entry(*client).or_default() += 1;
            }
        }
        let mut clients: Vec<(u32, usize)> = activity.into_iter().collect();
        clients.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        clients.truncate(MAX_CLIENTS);
        clients.sort_unstable();
        let lane_width = 110.0;
        let api_x = 60.0 + clients.len() as f64 * lane_width + lane_width / 2.0;
        let db_x = api_x + lane_width * 1.5;
        let t0 = events
            .iter()
            .map(|e| match e {
                TraceEvent::Request { sent_ms, .. } => *sent_ms,
                other => other.at_ms(),
            })
            .min()
            .unwrap_or(0);
        let t1 = events
            .iter()
            .map(|e| e.at_ms())
            .max()
            .unwrap_or(t0)
            .max(t0 + 1);
        Layout {
            clients,
            lane_width,
            api_x,
            db_x,
            width: db_x + 260.0,
            t0,
            t1,
            height: (events.len() as f64 * 14.0).clamp(400.0, 6000.0),
        }
    }

    /// The x of `client`'s lane, when it has one.
    fn client_x(&self, client: u32) -> Option<f64> {
        self.clients
            .iter()
            .position(|(c, _)| *c == client)
            .map(|i| 60.0 + i as f64 * self.lane_width + self.lane_width / 2.0)
    }

    /// The y of an instant.
    fn y(&self, ms: u64) -> f64 {
        60.0 + (ms - self.t0) as f64 / (self.t1 - self.t0) as f64 * self.height
    }
}

/// Draws one event: a request as an arrow to the API and its response
/// back (coloured by status), a transaction as a mark on the database
/// lane, a fault as a line across.
fn draw_event(svg: &mut String, layout: &Layout, event: &TraceEvent) {
    let (api_x, db_x) = (layout.api_x, layout.db_x);
    let y = |ms: u64| layout.y(ms);
    match event {
        TraceEvent::Request {
            client,
            op,
            request,
            sent_ms,
            received_ms,
            status,
            response,
            ..
        } => {
            let Some(x) = layout.client_x(*client) else {
                return;
            };
            let colour = match status {
                Some(s) if *s < 300 => "#2a7",
                Some(409) => "#e90",
                Some(_) => "#c33",
                None => "#888",
            };
            let title = escape(&format!(
                "client {client} {op} {request} => {} {response}",
                status.map_or("none".into(), |s| s.to_string())
            ));
            let _ = write!(
                svg,
                r##"<g><title>{title}</title><line x1="{x}" y1="{}" x2="{api_x}" y2="{}" stroke="#46c" marker-end="url(#a)"/><line x1="{api_x}" y1="{}" x2="{x}" y2="{}" stroke="{colour}" stroke-dasharray="4 2" marker-end="url(#a)"/><text x="{}" y="{}" fill="{colour}">{} {}</text></g>"##,
                y(*sent_ms),
                y(*sent_ms) + 2.0,
                y(*received_ms),
                y(*received_ms),
                (x + api_x) / 2.0 - 30.0,
                y(*received_ms) - 2.0,
                escape(op),
                status.map_or("timeout".to_string(), |s| s.to_string())
            );
        }
        TraceEvent::Transaction {
            at_ms,
            tx,
            reads,
            writes,
            ..
        } => {
            let title = escape(&format!(
                "T{tx} read {} wrote {}",
                reads.join(" "),
                writes.join(" ")
            ));
            let _ = write!(
                svg,
                r##"<g><title>{title}</title><circle cx="{db_x}" cy="{}" r="4" fill="#46c"/><text x="{}" y="{}">T{tx} {}</text></g>"##,
                y(*at_ms),
                db_x + 8.0,
                y(*at_ms) + 4.0,
                escape(&writes.join(" ").chars().take(40).collect::<String>())
            );
        }
        TraceEvent::Background { .. } => {
            // Background rounds show through the transactions they
            // commit; a line per round would crowd the diagram.
        }
        TraceEvent::Fault { at_ms, what } => {
            let _ = write!(
                svg,
                r##"<g><line x1="40" y1="{0}" x2="{1}" y2="{0}" stroke="#c33" stroke-width="2"/><text x="44" y="{2}" fill="#c33">{3}</text></g>"##,
                y(*at_ms),
                layout.width - 20.0,
                y(*at_ms) - 3.0,
                escape(what)
            );
        }
    }
}

/// How many trace events [`svg`] shows, and in how many lanes.
fn shown(report: &Report) -> (usize, usize) {
    let events: Vec<&TraceEvent> = report.trace.iter().rev().take(MAX_EVENTS).collect();
    let mut clients: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Request { client, .. } => Some(*client),
            _ => None,
        })
        .collect();
    clients.sort_unstable();
    clients.dedup();
    (events.len(), clients.len().min(MAX_CLIENTS) + 2)
}

/// A whole page: the diagram of [`svg`] with the verdict above it.
pub fn render(sim: &str, seed: u64, variant: &str, report: &Report) -> String {
    let svg = svg(report);
    let (shown_events, lanes) = shown(report);
    let verdict = match &report.violation {
        Some(v) => format!(
            "<p class=v>VIOLATION <b>{}</b> at step {}, {} ms: {}</p>",
            escape(&v.invariant),
            v.step,
            v.sim_time_ms,
            escape(&v.message)
        ),
        None => "<p>no violation</p>".to_string(),
    };
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>overbook {sim} seed {seed}</title><style>body{{font-family:sans-serif;margin:20px}} .v{{color:#c33}} svg{{border:1px solid #ddd}}</style></head><body><h1>{} — seed {seed}, variant {}</h1><p>{} events shown (of {}), {} lanes; hover an arrow or a commit for details. Trace hash {}.</p>{verdict}{svg}</body></html>\n",
        escape(sim),
        escape(variant),
        shown_events,
        report.trace.len(),
        lanes,
        report.trace_hash
    )
}
