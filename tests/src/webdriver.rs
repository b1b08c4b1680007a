//! A small W3C WebDriver client that drives a headless Chromium through `chromedriver`, for the
//! tests that need a real browser (the dashboard is a WebAssembly app; the sign-in pages are
//! server-rendered forms).
//!
//! [`Chromium::launch`] starts `chromedriver` on a free loopback port, waits until it reports
//! ready, and opens a session on a fresh, throw-away Chromium profile. The binaries default to
//! Debian's `/usr/bin/chromium` and `/usr/bin/chromedriver` (packages `chromium` and
//! `chromium-driver`, installed by `.ci/run`); `TOLLGATE_CHROMIUM` and `TOLLGATE_CHROMEDRIVER`
//! override them.
//!
//! Waiting is done by polling a condition against a deadline ([`Chromium::set_wait_timeout`],
//! 15 s by default), never by sleeping a fixed time. The page-level shortcuts ([`Chromium::click`],
//! [`Chromium::fill`], [`Chromium::text`]) wait for their element to be displayed first, and
//! [`Chromium::attr`] waits for it to be present, so they suit pages that render after load.
//! A timeout's error names the selector, the current URL and an excerpt of the page's visible
//! text.
//!
//! Dialogs (`alert`, `confirm`) stay open until [`Chromium::accept_alert`]: the session asks
//! chromedriver to leave them alone rather than dismiss them behind the test's back.
//!
//! [`Chromium::quit`] ends the session; dropping a [`Chromium`] does the same on a best-effort
//! basis (a blocking `DELETE` of the session, then the `chromedriver` process is killed), so a
//! failing test leaves no browser behind. Screenshots go under [`screenshot_dir`].
//!
//! ```no_run
//! # async fn example(url: &str) -> anyhow::Result<()> {
//! use tollgate_tests::webdriver::{Chromium, screenshot_dir};
//! let browser = Chromium::launch().await?;
//! browser.goto(url).await?;
//! browser.fill("#name", "Ada Lovelace").await?;
//! browser.click("button[type=submit]").await?;
//! browser.wait_for_text("h1", "Welcome").await?;
//! browser.screenshot(screenshot_dir().join("welcome.png")).await?;
//! browser.quit().await?;
//! # Ok(())
//! # }
//! ```

use anyhow::{Context, anyhow, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The default deadline of the `wait_*` methods.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(15);

/// How often the `wait_*` methods look again.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// How long `chromedriver` may take to report ready.
const DRIVER_START: Duration = Duration::from_secs(20);

/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The window sizes the dashboard is walked at: a laptop's and a phone's.
pub const WIDTHS: [(u32, u32); 2] = [(1280, 900), (390, 844)];

/// Where tests write screenshots: `$CARGO_TARGET_DIR/screenshots`, else
/// `<workspace>/target/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("screenshots"),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")))
            .join("target")
            .join("screenshots"),
    }
}

/// One WebDriver session: the HTTP client and `http://127.0.0.1:<port>/session/<id>`.
#[derive(Clone, Debug)]
struct Session {
    http: reqwest::Client,
    url: String,
}

/// A WebDriver error answer: its `error` code and message.
#[derive(Debug)]
struct DriverError {
    code: String,
    message: String,
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DriverError {}

/// Whether `error` is the WebDriver error `code` (as opposed to, say, a dead driver).
fn is_driver_error(error: &anyhow::Error, code: &str) -> bool {
    error
        .downcast_ref::<DriverError>()
        .is_some_and(|e| e.code == code)
}

impl Session {
    /// Sends one command; returns the answer's `value`.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("WebDriver {method} {path}: chromedriver does not answer"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("WebDriver {method} {path}: the answer is not JSON"))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let code = value["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_owned();
        // chromedriver appends session details and a stack trace after the first line.
        let message = value["message"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        Err(anyhow::Error::new(DriverError { code, message })
            .context(format!("WebDriver {method} {path} ({status})")))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Every element matching `css`, in document order.
    async fn elements(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await
            .with_context(|| format!("looking for `{css}`"))?;
        found
            .as_array()
            .context("the element list is not an array")?
            .iter()
            .map(|reference| Element::from_reference(self.clone(), css, reference))
            .collect()
    }
}

/// An element of the current page, found by a CSS selector.
#[derive(Clone, Debug)]
pub struct Element {
    session: Session,
    id: String,
    selector: String,
}

impl Element {
    fn from_reference(session: Session, css: &str, reference: &Value) -> anyhow::Result<Self> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .with_context(|| format!("`{css}`: no element reference in {reference}"))?
            .to_owned();
        Ok(Self {
            session,
            id,
            selector: css.to_owned(),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// The selector this element was found by.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Clicks the element (scrolling it into view).
    pub async fn click(&self) -> anyhow::Result<()> {
        self.session
            .post(&self.path("/click"), json!({}))
            .await
            .with_context(|| format!("clicking `{}`", self.selector))?;
        Ok(())
    }

    /// Clears the field, then types `text` into it.
    pub async fn fill(&self, text: &str) -> anyhow::Result<()> {
        self.session
            .post(&self.path("/clear"), json!({}))
            .await
            .with_context(|| format!("clearing `{}`", self.selector))?;
        self.session
            .post(&self.path("/value"), json!({"text": text}))
            .await
            .with_context(|| format!("typing into `{}`", self.selector))?;
        Ok(())
    }

    /// The element's rendered text (what the user sees).
    pub async fn text(&self) -> anyhow::Result<String> {
        let value = self
            .session
            .get(&self.path("/text"))
            .await
            .with_context(|| format!("reading the text of `{}`", self.selector))?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The HTML attribute `name` (a boolean attribute reads `"true"` when present); `None`
    /// when absent. A field's current value is its *property* `value`: see [`Element::value`].
    pub async fn attr(&self, name: &str) -> anyhow::Result<Option<String>> {
        let value = self
            .session
            .get(&self.path(&format!("/attribute/{name}")))
            .await
            .with_context(|| format!("reading `{name}` of `{}`", self.selector))?;
        Ok(match value {
            Value::Null => None,
            Value::String(text) => Some(text),
            other => Some(other.to_string()),
        })
    }

    /// A field's current value (its `value` property: what the user typed or the app set),
    /// which its `value` attribute does not follow.
    pub async fn value(&self) -> anyhow::Result<String> {
        let value = self
            .session
            .get(&self.path("/property/value"))
            .await
            .with_context(|| format!("reading the value of `{}`", self.selector))?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Whether the element is displayed.
    pub async fn displayed(&self) -> anyhow::Result<bool> {
        let value = self
            .session
            .get(&self.path("/displayed"))
            .await
            .with_context(|| format!("checking whether `{}` is displayed", self.selector))?;
        Ok(value.as_bool().unwrap_or(false))
    }
}

/// A headless Chromium driven through its own `chromedriver`.
#[derive(Debug)]
pub struct Chromium {
    session: Session,
    port: u16,
    session_id: String,
    driver: Option<Child>,
    scratch: PathBuf,
    wait: Duration,
    open: bool,
}

/// The binary named by `variable`, else `default`; an error that says how to install it.
fn binary(variable: &str, default: &str, package: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from);
    if !path.is_file() {
        bail!(
            "{package} is not installed ({} is missing): run `.ci/run`, or \
             `apt-get install chromium chromium-driver`, or set {variable}",
            path.display()
        );
    }
    Ok(path)
}

/// A port nobody listens on right now (bound, then released for chromedriver to take).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last lines of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A started `chromedriver` that reports ready.
struct Driver {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

/// Kills and reaps a child; best effort.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `chromedriver` on `port` and waits until `/status` says ready. `Ok(None)` when it
/// exited early (most likely: someone took the port in between), so the caller may retry.
async fn start_driver(
    program: &Path,
    port: u16,
    log: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Option<Driver>> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let status_url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + DRIVER_START;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(None);
        }
        if let Ok(response) = http.get(&status_url).send().await
            && let Ok(status) = response.json::<Value>().await
            && status["value"]["ready"].as_bool() == Some(true)
        {
            return Ok(Some(Driver {
                child,
                port,
                http: http.clone(),
            }));
        }
        if Instant::now() > deadline {
            kill(&mut child);
            bail!(
                "chromedriver did not report ready within {DRIVER_START:?}; its log ({}):\n{}",
                log.display(),
                log_tail(log)
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Collapses whitespace and keeps the first `limit` characters.
fn excerpt(text: &str, limit: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= limit {
        flat
    } else {
        format!("{}…", flat.chars().take(limit).collect::<String>())
    }
}

impl Chromium {
    /// Starts `chromedriver` and a headless Chromium on a fresh profile.
    pub async fn launch() -> anyhow::Result<Self> {
        crate::install_crypto();
        let chromium = binary("TOLLGATE_CHROMIUM", DEFAULT_CHROMIUM, "Chromium")?;
        let chromedriver = binary(
            "TOLLGATE_CHROMEDRIVER",
            DEFAULT_CHROMEDRIVER,
            "chromedriver",
        )?;
        let scratch = std::env::temp_dir().join(format!(
            "tollgate-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let profile = scratch.join("profile");
        std::fs::create_dir_all(&profile)
            .with_context(|| format!("creating {}", profile.display()))?;
        let log = scratch.join("chromedriver.log");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(90))
            .build()
            .context("building the WebDriver HTTP client")?;

        let mut driver = None;
        for _ in 0..5 {
            driver = start_driver(&chromedriver, free_port()?, &log, &http).await?;
            if driver.is_some() {
                break;
            }
        }
        let Some(mut driver) = driver else {
            bail!(
                "chromedriver exited at start five times; its log ({}):\n{}",
                log.display(),
                log_tail(&log)
            );
        };

        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "timeouts": {"pageLoad": 30_000, "script": 30_000, "implicit": 0},
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1280,900",
                ],
            },
        }}});
        let created = async {
            let response = driver
                .http
                .post(format!("http://127.0.0.1:{}/session", driver.port))
                .json(&capabilities)
                .send()
                .await?;
            let status = response.status();
            let answer: Value = response.json().await?;
            match answer["value"]["sessionId"].as_str() {
                Some(id) if status.is_success() => Ok(id.to_owned()),
                _ => Err(anyhow!("{status}: {}", answer["value"]["message"])),
            }
        }
        .await;
        let session_id = match created {
            Ok(id) => id,
            Err(e) => {
                kill(&mut driver.child);
                bail!(
                    "chromedriver could not start Chromium ({}): {e:#}; its log ({}):\n{}",
                    chromium.display(),
                    log.display(),
                    log_tail(&log)
                );
            }
        };
        Ok(Self {
            session: Session {
                http: driver.http,
                url: format!("http://127.0.0.1:{}/session/{session_id}", driver.port),
            },
            port: driver.port,
            session_id,
            driver: Some(driver.child),
            scratch,
            wait: DEFAULT_WAIT,
            open: true,
        })
    }

    /// Changes the deadline of the `wait_*` methods (and of the shortcuts that wait).
    pub fn set_wait_timeout(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Loads `url` and waits for its `load` event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.session
            .post("/url", json!({"url": url}))
            .await
            .with_context(|| format!("opening {url}"))?;
        Ok(())
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> anyhow::Result<String> {
        let value = self.session.get("/url").await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The first element matching `css`, now (no waiting).
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let found = self.session.elements(css).await?;
        match found.into_iter().next() {
            Some(element) => Ok(element),
            None => Err(self.failure(&format!("no element matches `{css}`")).await),
        }
    }

    /// Every element matching `css`, now (no waiting; possibly none).
    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        self.session.elements(css).await
    }

    /// Tries `attempt` every [`POLL_EVERY`] until it gives a value or the wait runs out; then
    /// fails saying what it waited for and what the last attempt saw (its `Err`), with the
    /// page's state.
    async fn poll<T>(
        &self,
        what: &str,
        mut attempt: impl AsyncFnMut() -> anyhow::Result<Result<T, String>>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + self.wait;
        loop {
            let seen = match attempt().await? {
                Ok(value) => return Ok(value),
                Err(seen) => seen,
            };
            if Instant::now() > deadline {
                let seen = if seen.is_empty() {
                    seen
                } else {
                    format!(" ({seen})")
                };
                let what = format!("timed out after {:?} waiting for {what}{seen}", self.wait);
                return Err(self.failure(&what).await);
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Waits until an element matching `css` is present and displayed; returns the first such.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        self.poll(&format!("`{css}` to be displayed"), async || {
            for element in self.session.elements(css).await? {
                match element.displayed().await {
                    Ok(true) => return Ok(Ok(element)),
                    Ok(false) => {}
                    // The page changed under us: look again.
                    Err(e) if is_driver_error(&e, "stale element reference") => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Err(String::new()))
        })
        .await
    }

    /// Waits until an element matching `css` is present (displayed or not).
    async fn wait_present(&self, css: &str) -> anyhow::Result<Element> {
        self.poll(&format!("`{css}`"), async || {
            Ok(self
                .session
                .elements(css)
                .await?
                .into_iter()
                .next()
                .ok_or_else(String::new))
        })
        .await
    }

    /// Waits until an element matching `css` has a text containing `needle`; returns that text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        self.poll(&format!("`{css}` to contain {needle:?}"), async || {
            let mut seen = Vec::new();
            for element in self.session.elements(css).await? {
                match element.text().await {
                    Ok(text) if text.contains(needle) => return Ok(Ok(text)),
                    Ok(text) => seen.push(excerpt(&text, 120)),
                    Err(e) if is_driver_error(&e, "stale element reference") => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Err(format!("its matches read: {seen:?}")))
        })
        .await
    }

    /// Waits until the field matching `css` holds `expected` (its `value` property; the app
    /// may set it a moment after an input event).
    pub async fn wait_for_value(&self, css: &str, expected: &str) -> anyhow::Result<()> {
        self.poll(&format!("`{css}` to hold {expected:?}"), async || {
            let Some(element) = self.session.elements(css).await?.into_iter().next() else {
                return Ok(Err("it is not on the page".to_owned()));
            };
            match element.value().await {
                Ok(value) if value == expected => Ok(Ok(())),
                Ok(value) => Ok(Err(format!("it holds {value:?}"))),
                Err(e) if is_driver_error(&e, "stale element reference") => Ok(Err(String::new())),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Waits until the current URL satisfies `accept`; returns it.
    pub async fn wait_until_url(&self, accept: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        self.poll("the URL to change as expected", async || {
            let url = self.current_url().await?;
            Ok(if accept(&url) {
                Ok(url)
            } else {
                Err(format!("it is {url}"))
            })
        })
        .await
    }

    /// Waits until the page's title (the browser tab's) is `expected`.
    pub async fn wait_for_title(&self, expected: &str) -> anyhow::Result<()> {
        self.poll(&format!("the title {expected:?}"), async || {
            let title = self.execute("return document.title;", &[]).await?;
            let title = title.as_str().unwrap_or_default();
            Ok(if title == expected {
                Ok(())
            } else {
                Err(format!("it is {title:?}"))
            })
        })
        .await
    }

    /// Waits for `css` to be displayed, then clicks it.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.click().await
    }

    /// Waits for `css` to be displayed, then clears it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?.fill(text).await
    }

    /// Waits for `css` to be displayed; returns its rendered text.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        self.wait_for(css).await?.text().await
    }

    /// Waits for `css` to be present; returns its attribute `name` (see [`Element::attr`]).
    pub async fn attr(&self, css: &str, name: &str) -> anyhow::Result<Option<String>> {
        self.wait_present(css).await?.attr(name).await
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page; returns what it
    /// returns.
    pub async fn execute(&self, script: &str, args: &[Value]) -> anyhow::Result<Value> {
        self.session
            .post("/execute/sync", json!({"script": script, "args": args}))
            .await
            .context("running a script in the page")
    }

    /// [`Chromium::launch`] with the window at `width` × `height`, for a test: failing panics.
    pub async fn launch_at(width: u32, height: u32) -> Self {
        let browser = Self::launch().await.expect("Chromium starts");
        browser
            .set_window_size(width, height)
            .await
            .expect("resize");
        browser
    }

    /// Goes to `url` and waits for `marker` there, for a test: failing panics.
    pub async fn open(&self, url: &str, marker: &str) {
        self.goto(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e:#}"));
        self.wait_for(marker)
            .await
            .unwrap_or_else(|e| panic!("{marker} on {url}: {e:#}"));
    }

    /// Saves a PNG of the viewport as `<screenshot_dir>/<name>.png`, for a test: failing panics.
    pub async fn shot(&self, name: &str) {
        let path = screenshot_dir().join(format!("{name}.png"));
        self.screenshot(&path)
            .await
            .unwrap_or_else(|e| panic!("a screenshot of {name}: {e:#}"));
    }

    /// Writes a PNG of the viewport to `path`, creating its folders.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        let value = self.session.get("/screenshot").await?;
        let png = decode_base64(value.as_str().context("the screenshot is not a string")?)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Resizes the window (the outer size, in CSS pixels).
    pub async fn set_window_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.session
            .post("/window/rect", json!({"width": width, "height": height}))
            .await
            .with_context(|| format!("resizing the window to {width}×{height}"))?;
        Ok(())
    }

    /// Waits for a dialog (`alert`, `confirm`, `prompt`), accepts it, and returns its message.
    pub async fn accept_alert(&self) -> anyhow::Result<String> {
        self.answer_alert("/alert/accept").await
    }

    /// Waits for a dialog (a `confirm`, or the browser's "Leave site?" of `beforeunload`),
    /// dismisses it (Cancel, Stay), and returns its message.
    pub async fn dismiss_alert(&self) -> anyhow::Result<String> {
        self.answer_alert("/alert/dismiss").await
    }

    /// Waits until the script `condition` (a function body that returns a boolean) returns
    /// true.
    pub async fn wait_until_script(&self, what: &str, condition: &str) -> anyhow::Result<()> {
        self.poll(what, async || {
            Ok(match self.execute(condition, &[]).await? {
                Value::Bool(true) => Ok(()),
                other => Err(format!("it returned {other}")),
            })
        })
        .await
    }

    async fn answer_alert(&self, answer: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + self.wait;
        loop {
            match self.session.get("/alert/text").await {
                Ok(text) => {
                    self.session.post(answer, json!({})).await?;
                    return Ok(text.as_str().unwrap_or_default().to_owned());
                }
                Err(e) if is_driver_error(&e, "no such alert") => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > deadline {
                let what = format!("timed out after {:?} waiting for a dialog", self.wait);
                return Err(self.failure(&what).await);
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Ends the session (closing Chromium) and stops `chromedriver`.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.open = false;
        let ended = self
            .session
            .send(Method::DELETE, "", None)
            .await
            .context("ending the WebDriver session");
        if let Some(mut child) = self.driver.take() {
            kill(&mut child);
        }
        ended.map(drop)
    }

    /// An error saying `what`, with the current URL and what the page shows.
    async fn failure(&self, what: &str) -> anyhow::Error {
        let url = self
            .current_url()
            .await
            .unwrap_or_else(|e| format!("(unknown: {e:#})"));
        let shown = match self
            .execute(
                "return document.body ? document.body.innerText : document.documentElement.outerHTML;",
                &[],
            )
            .await
        {
            Ok(Value::String(text)) => excerpt(&text, 600),
            Ok(other) => excerpt(&other.to_string(), 600),
            Err(e) => format!("(unreadable: {e:#})"),
        };
        anyhow!("{what}\n  at: {url}\n  the page shows: {shown}")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if self.open {
            // Blocking, raw HTTP: `Drop` cannot await, and killing chromedriver alone would
            // leave Chromium running.
            let _ = delete_session_blocking(self.port, &self.session_id);
        }
        if let Some(mut child) = self.driver.take() {
            kill(&mut child);
        }
        if std::thread::panicking() {
            eprintln!(
                "Chromium: chromedriver's log is kept in {}",
                self.scratch.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// `DELETE /session/<id>` over a plain socket, waiting up to ten seconds for the answer.
fn delete_session_blocking(port: u16, session_id: &str) -> std::io::Result<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver keeps the connection open: read the head, then `Content-Length` bytes.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        answer.extend_from_slice(&chunk[..read]);
        let Some(head_end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if answer.len() >= head_end + 4 + length {
            return Ok(());
        }
    }
}

/// Decodes standard, padded base64 (the screenshot encoding).
fn decode_base64(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' => continue,
            other => bail!("not base64: byte {other:#04x}"),
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("").expect("empty"), b"");
        assert_eq!(decode_base64("Zg==").expect("f"), b"f");
        assert_eq!(decode_base64("Zm8=").expect("fo"), b"fo");
        assert_eq!(decode_base64("Zm9v").expect("foo"), b"foo");
        assert_eq!(
            decode_base64("iVBORw0KGgo=").expect("png magic"),
            b"\x89PNG\r\n\x1a\n"
        );
        assert!(decode_base64("Zm9v!").is_err());
    }

    #[test]
    fn excerpts_collapse_whitespace_and_stop_at_the_limit() {
        assert_eq!(excerpt("a\n\n  b\tc", 10), "a b c");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
