//! The HTML report and the failure timeline in a real browser: headless
//! Chromium loads each page from a file, once dumping the DOM after load
//! (the report's inline script records where every chart is, whether it
//! has drawn marks, and any script error) and once taking a screenshot,
//! in which every chart's plot area must hold coloured pixels (the lines;
//! the mesh is grey and the text black). Chromium's console log must show
//! no error, and a control page with a planted script error must show one.
//!
//! They are ignored by a plain `cargo test` (counted so in its summary):
//! `apt-get install chromium`, then `cargo test --test suite browser --
//! --ignored`. Run without a browser, they fail.

use overbook::html::report::{render, ReportPage};
use overbook::html::timeline;
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::system::{System, Variant};
use overbook::world::{self, Report, RunOptions};
use overbook_clinic::service::Clinic;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One browser at a time: the machine is small.
static BROWSER: Mutex<()> = Mutex::new(());

/// How long one browser run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The legend box at a chart's upper right, pixels (at most four lines).
const LEGEND_WIDTH: u32 = 200;
/// See [`LEGEND_WIDTH`].
const LEGEND_HEIGHT: u32 = 110;

/// The page width the screenshots use.
const WINDOW_WIDTH: u32 = 1100;

/// The headless browser: `CHROMIUM`, or the first Chromium or Chrome on PATH.
pub(crate) fn browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// The browser. A test that calls it is marked `#[ignore = "needs
/// Chromium ..."]`, so a plain `cargo test` counts it as ignored; run
/// without a browser, it fails rather than pass having done nothing.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    let found = browser();
    assert!(
        found.is_some(),
        "{test} needs Chromium and there is none on PATH: apt-get install chromium (or set CHROMIUM=/path/to/chrome), then cargo test --test suite browser -- --ignored"
    );
    found
}

/// What one browser run printed.
struct BrowserRun {
    stdout: String,
    stderr: String,
}

fn run_browser(browser: &Path, page: &Path, extra: &[String]) -> BrowserRun {
    let profile = page.with_extension("profile");
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the browser starts");
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser took longer than {BROWSER_TIMEOUT:?} on {}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    BrowserRun {
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Console messages from the page that are errors (Chromium logs them as
/// `CONSOLE` lines with `--enable-logging=stderr`).
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect()
}

/// A chart as the page's render check recorded it.
#[derive(Debug, serde::Deserialize)]
struct ChartBox {
    id: String,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    drawn: bool,
}

#[derive(Debug, serde::Deserialize)]
struct RenderCheck {
    charts: Vec<ChartBox>,
    errors: Vec<String>,
}

/// Loads a report page and reads the render check from the DOM.
fn dom_check(browser: &Path, page: &Path) -> (RenderCheck, BrowserRun) {
    let run = run_browser(
        browser,
        page,
        &[
            format!("--window-size={WINDOW_WIDTH},1000"),
            "--virtual-time-budget=3000".to_string(),
            "--dump-dom".to_string(),
        ],
    );
    assert!(
        run.stdout.contains("data-rendered=\"ok\""),
        "the page did not mark itself rendered: {}\n{}",
        &run.stdout[..run.stdout.len().min(2000)],
        run.stderr
    );
    let start = run
        .stdout
        .find("<pre id=\"render-check\" hidden=\"\">")
        .expect("the render check is in the DOM");
    let json = &run.stdout[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</pre>").unwrap()];
    let check: RenderCheck = serde_json::from_str(&json.replace("&quot;", "\""))
        .unwrap_or_else(|e| panic!("render check {json}: {e}"));
    (check, run)
}

/// An RGB screenshot.
struct Screenshot {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Screenshot {
    fn take(browser: &Path, page: &Path, height: u32) -> Screenshot {
        let png = page.with_extension("png");
        let _ = std::fs::remove_file(&png);
        let run = run_browser(
            browser,
            page,
            &[
                format!("--window-size={WINDOW_WIDTH},{height}"),
                format!("--screenshot={}", png.display()),
            ],
        );
        assert!(png.exists(), "no screenshot: {}", run.stderr);
        let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buffer).unwrap();
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgb = buffer[..info.buffer_size()]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Screenshot {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    /// Pixels in the rectangle whose colour is saturated (a drawn line or
    /// mark, not white, grey or black).
    fn coloured(&self, x: u32, y: u32, w: u32, h: u32) -> usize {
        let mut count = 0;
        for row in y..(y + h).min(self.height) {
            for column in x..(x + w).min(self.width) {
                let [r, g, b] = self.rgb[(row * self.width + column) as usize];
                let (high, low) = (r.max(g).max(b), r.min(g).min(b));
                if high - low > 60 {
                    count += 1;
                }
            }
        }
        count
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overbook-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_sim(sim: &str, variant: Variant, trace: bool) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sims")
        .join(format!("{sim}.toml"));
    let scenario = Scenario::load_for(&Clinic, &path).unwrap();
    world::run_with(&Clinic, &scenario, Seed(1), variant, RunOptions { trace })
}

/// Renders a report page in the browser and checks that every chart drew,
/// with no script or console error. Returns the chart ids.
fn check_report_page(browser: &Path, page: &Path) -> Vec<String> {
    let (check, dom_run) = dom_check(browser, page);
    assert!(check.errors.is_empty(), "script errors: {:?}", check.errors);
    assert!(
        console_errors(&dom_run.stderr).is_empty(),
        "console errors: {:?}",
        console_errors(&dom_run.stderr)
    );
    let bottom = check.charts.iter().map(|c| c.y + c.h).max().unwrap();
    let shot = Screenshot::take(browser, page, bottom + 40);
    assert_eq!(shot.width, WINDOW_WIDTH);
    for chart in &check.charts {
        assert!(chart.drawn, "{} has no drawn marks", chart.id);
        assert!(chart.w > 300 && chart.h > 150, "{chart:?} is too small");
        // The plot area less the legend box at its upper right, so the
        // colour counted is the lines and marks themselves.
        let plot = shot.coloured(chart.x + 70, chart.y + 10, chart.w - 80, chart.h - 50)
            - shot.coloured(
                chart.x + chart.w - LEGEND_WIDTH,
                chart.y,
                LEGEND_WIDTH,
                LEGEND_HEIGHT,
            );
        assert!(
            plot >= 25,
            "{}: only {plot} coloured pixels where its lines should be",
            chart.id
        );
    }
    check.charts.iter().map(|c| c.id.clone()).collect()
}

#[test]
#[ignore = "needs Chromium on PATH or CHROMIUM (cargo test --test suite browser -- --ignored)"]
fn html_report_of_units_mixed_draws_every_chart() {
    let Some(browser) = browser_or_skip("html_report_of_units_mixed_draws_every_chart") else {
        return;
    };
    let report = run_sim("units-mixed", Variant::CORRECT, false);
    assert!(report.passed, "{}", report.summary_line());
    let dir = scratch("mixed");
    let page = dir.join("units-mixed.html");
    std::fs::write(&page, render(&report, &ReportPage::default())).unwrap();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let charts = check_report_page(&browser, &page);
    let ops = report.series.ops().len();
    assert_eq!(charts.len(), 4 + ops, "{charts:?}");
    assert!(charts.contains(&"chart-database".to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs Chromium on PATH or CHROMIUM (cargo test --test suite browser -- --ignored)"]
fn html_report_of_a_failing_units_burst_draws_charts_and_timeline() {
    let Some(browser) =
        browser_or_skip("html_report_of_a_failing_units_burst_draws_charts_and_timeline")
    else {
        return;
    };
    let variant = Clinic.variant("units/read-committed").unwrap();
    let report = run_sim("units-burst", variant, true);
    assert!(report.violation.is_some(), "{}", report.summary_line());
    let dir = scratch("burst");
    let page = dir.join("units-burst.html");
    let options = ReportPage {
        replay_command: Some("overbook run units-burst --variant units/read-committed".into()),
    };
    std::fs::write(&page, render(&report, &options)).unwrap();
    let timeline_page = dir.join("timeline.html");
    std::fs::write(
        &timeline_page,
        timeline::render("units-burst", 1, variant.name(), &report),
    )
    .unwrap();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let charts = check_report_page(&browser, &page);
    assert!(charts.contains(&"chart-timeline".to_string()), "{charts:?}");

    // The timeline page on its own (`overbook replay --timeline`): loads
    // without console errors and draws its arrows and commits.
    let run = run_browser(
        &browser,
        &timeline_page,
        &[
            format!("--window-size={WINDOW_WIDTH},1000"),
            "--dump-dom".to_string(),
        ],
    );
    assert!(run.stdout.contains("class=\"timeline\""), "{}", run.stdout);
    assert!(console_errors(&run.stderr).is_empty(), "{}", run.stderr);
    let shot = Screenshot::take(&browser, &timeline_page, 900);
    let coloured = shot.coloured(0, 0, shot.width, shot.height);
    assert!(
        coloured >= 200,
        "the timeline drew {coloured} coloured pixels"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs Chromium on PATH or CHROMIUM (cargo test --test suite browser -- --ignored)"]
fn a_planted_script_error_is_caught() {
    // The control for the checks above: they must be able to fail.
    let Some(browser) = browser_or_skip("a_planted_script_error_is_caught") else {
        return;
    };
    let variant = Clinic.variant("units/read-committed").unwrap();
    let report = run_sim("units-burst", variant, false);
    let dir = scratch("control");
    let page = dir.join("broken.html");
    let html = render(&report, &ReportPage::default()).replace(
        "<pre id=render-check hidden>",
        "<script>undefinedFunction();</script><pre id=render-check hidden>",
    );
    std::fs::write(&page, html).unwrap();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let (check, run) = dom_check(&browser, &page);
    assert!(
        check.errors.iter().any(|e| e.contains("undefinedFunction")),
        "{:?}",
        check.errors
    );
    assert!(
        console_errors(&run.stderr)
            .iter()
            .any(|l| l.contains("undefinedFunction")),
        "chromium's log shows no console error: {}",
        run.stderr
    );
    // A blank page has no coloured pixels where a chart would be.
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!doctype html><html><body></body></html>").unwrap();
    let shot = Screenshot::take(&browser, &blank, 600);
    let chart = &check.charts[0];
    assert_eq!(
        shot.coloured(chart.x + 70, chart.y.min(300), chart.w * 6 / 10, 200),
        0
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
