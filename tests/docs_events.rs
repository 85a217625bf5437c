//! `docs/LOGS.md` and the code agree on the log events and the alerts.
//!
//! The test reads every `.rs` file under `src/` and `docs/LOGS.md`, and
//! fails naming every event the code writes that the page lacks, every
//! event the page lists that the code no longer writes, and every severity
//! that differs. The same for the alert names.
//!
//! # What counts as an event in the code
//!
//! Kept simple on purpose, so that a reader can predict it:
//!
//! * A file is read up to its first `#[cfg(test)]` line (unit tests sit at
//!   the bottom of a file and may log what they like). Lines whose first
//!   non-blank characters are `//` (comments, doc comments) are skipped.
//! * A log call is `info!(`, `warn!(`, `error!(`, `debug!(` or `trace!(`
//!   not preceded by a letter, digit or `_` (so `log::error!(` counts).
//!   After the `(` an optional `target: EXPR,` is skipped; then comes the
//!   format string, which must be a string literal. Its first word (up to
//!   the first whitespace) is the event. The severity is the macro's name,
//!   or `alert` when the target names `ALERT` (the logger sends those at
//!   syslog severity alert).
//! * The logger writes a line of its own too: the first word of each
//!   `format_args!("...")` literal in `src/os/log.rs` is an event. Its
//!   severity is not checked.
//! * Alert names: in `src/daemon/exec.rs`, a line that starts with `AlertKind::`
//!   or `VsAlert::` and contains `=>` starts a match arm; the arm is that
//!   line and the lines after it indented deeper. Every string literal in
//!   the arm made only of lower-case letters, digits and `-` is an alert
//!   name (`"node-lost"`, `"foreign-mac"`).
//!
//! # What counts as an event in `docs/LOGS.md`
//!
//! Between `<!-- events:begin -->` and `<!-- events:end -->`, every line
//! that starts with ``- ` `` names an event: the text up to the next
//! backtick, followed by its severities in parentheses, comma-separated:
//! ``- `child-exit` (info, debug): ...``. Between `<!-- alerts:begin -->`
//! and `<!-- alerts:end -->`, every such line names an alert.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The log macros whose first format word is an event.
const MACROS: [&str; 5] = ["info", "warn", "error", "debug", "trace"];

/// Where an event was first found, and its severities (`checked`: found in
/// a log macro call, so its severities are known).
#[derive(Default)]
struct Found {
    severities: BTreeSet<String>,
    checked: bool,
    first_at: String,
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text the extraction looks at: up to the first `#[cfg(test)]` line,
/// comment lines blanked (kept as empty lines, so line numbers stay right).
fn code_part(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if !t.starts_with("//") {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The string literal starting at `s` (after optional whitespace): its
/// contents, escapes kept as written. Handles `"..."` and raw `r#"..."#`.
fn literal(s: &str) -> Option<String> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('r') {
        let hashes = rest.len() - rest.trim_start_matches('#').len();
        let body = rest[hashes..].strip_prefix('"')?;
        let end = format!("\"{}", "#".repeat(hashes));
        return body.find(&end).map(|i| body[..i].to_owned());
    }
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut escaped = false;
    for c in body.chars() {
        match c {
            '"' if !escaped => return Some(out),
            '\\' if !escaped => escaped = true,
            _ => escaped = false,
        }
        out.push(c);
    }
    None
}

/// The first word of a format string.
fn first_word(format: &str) -> String {
    format.split_whitespace().next().unwrap_or("").to_owned()
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Log events in one file's code part: `(event, severity, line)`. A log
/// call whose format is not a string literal is an error (it could hide an
/// event).
fn log_events(code: &str) -> Result<Vec<(String, String, usize)>, String> {
    let mut out = Vec::new();
    for name in MACROS {
        let pat = format!("{name}!(");
        let mut from = 0;
        while let Some(off) = code[from..].find(&pat) {
            let at = from + off;
            from = at + pat.len();
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let mut rest = code[from..].trim_start();
            let mut severity = name.to_owned();
            if let Some(t) = rest.strip_prefix("target:") {
                let comma = t.find(',').ok_or_else(|| {
                    format!("line {}: `target:` without a comma", line_of(code, at))
                })?;
                if t[..comma].contains("ALERT") {
                    severity = "alert".to_owned();
                }
                rest = &t[comma + 1..];
            }
            let format = literal(rest).ok_or_else(|| {
                format!(
                    "line {}: `{pat}` without a string literal format",
                    line_of(code, at)
                )
            })?;
            out.push((first_word(&format), severity, line_of(code, at)));
        }
    }
    Ok(out)
}

/// The logger's own lines: the first words of `format_args!` literals.
fn logger_events(code: &str) -> Vec<(String, usize)> {
    let pat = "format_args!(";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(off) = code[from..].find(pat) {
        let at = from + off;
        from = at + pat.len();
        if let Some(format) = literal(&code[from..]) {
            out.push((first_word(&format), line_of(code, at)));
        }
    }
    out
}

/// Every string literal in a line (plain literals only).
fn literals_in(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(q) = rest.find('"') {
        match literal(&rest[q..]) {
            Some(l) => {
                rest = &rest[q + l.len() + 2..];
                out.push(l);
            }
            None => break,
        }
    }
    out
}

/// Alert names in the match arms on `AlertKind::` and `VsAlert::`.
fn alert_names(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if !(t.starts_with("AlertKind::") || t.starts_with("VsAlert::")) || !t.contains("=>") {
            continue;
        }
        let arm_indent = indent(line);
        let body = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || indent(l) > arm_indent);
        for (k, l) in std::iter::once(line).chain(body).enumerate() {
            for lit in literals_in(l) {
                if is_name(&lit) {
                    out.push((lit, i + 1 + k));
                }
            }
        }
    }
    out
}

/// Everything the code says: events with severities, and alert names.
fn from_code() -> (BTreeMap<String, Found>, BTreeMap<String, String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut events: BTreeMap<String, Found> = BTreeMap::new();
    let mut alerts = BTreeMap::new();
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {rel}: {e}"));
        let code = code_part(&text);
        let found = log_events(&code).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for (event, severity, line) in found {
            let f = events.entry(event).or_default();
            if f.first_at.is_empty() {
                f.first_at = format!("{rel}:{line}");
            }
            f.severities.insert(severity);
            f.checked = true;
        }
        if rel == "src/os/log.rs" {
            for (event, line) in logger_events(&code) {
                let f = events.entry(event).or_default();
                if f.first_at.is_empty() {
                    f.first_at = format!("{rel}:{line}");
                }
            }
        }
        if rel == "src/daemon/exec.rs" {
            for (name, line) in alert_names(&code) {
                alerts
                    .entry(name)
                    .or_insert_with(|| format!("{rel}:{line}"));
            }
        }
    }
    (events, alerts)
}

/// The lines between two markers of `docs/LOGS.md` that start with ``- ` ``:
/// `(name, what follows the name's closing backtick, line number)`.
fn marked(doc: &str, list: &str) -> Vec<(String, String, usize)> {
    let begin = format!("<!-- {list}:begin -->");
    let end = format!("<!-- {list}:end -->");
    let mut inside = false;
    let mut out = Vec::new();
    for (i, line) in doc.lines().enumerate() {
        if line.trim() == begin {
            inside = true;
        } else if line.trim() == end {
            inside = false;
        } else if let (true, Some(rest)) = (inside, line.strip_prefix("- `")) {
            if let Some((name, after)) = rest.split_once('`') {
                out.push((name.to_owned(), after.to_owned(), i + 1));
            }
        }
    }
    out
}

/// `(info, debug): ...` to {info, debug}.
fn doc_severities(after: &str) -> Option<BTreeSet<String>> {
    let inner = after.strip_prefix(" (")?.split_once(')')?.0;
    Some(inner.split(',').map(|s| s.trim().to_owned()).collect())
}

/// `{info, debug}` as `info, debug`.
fn joined(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn logs_md_lists_every_event_and_alert_the_code_writes() {
    let (code_events, code_alerts) = from_code();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/LOGS.md");
    let doc = std::fs::read_to_string(path).expect("read docs/LOGS.md");
    let doc_events = marked(&doc, "events");
    let doc_alerts = marked(&doc, "alerts");

    // The extraction itself must have found something, or it is broken.
    assert!(
        code_events.len() >= 20,
        "only {} events found in src/: is the extraction broken?",
        code_events.len()
    );
    assert!(
        code_alerts.len() >= 5,
        "only {} alert names found in src/daemon/exec.rs: is the extraction broken?",
        code_alerts.len()
    );
    assert!(
        !doc_events.is_empty(),
        "no events between the markers of docs/LOGS.md"
    );
    assert!(
        !doc_alerts.is_empty(),
        "no alerts between the markers of docs/LOGS.md"
    );

    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for (name, after, line) in &doc_events {
        if !listed.insert(name.clone()) {
            problems.push(format!(
                "docs/LOGS.md:{line}: event `{name}` is listed twice"
            ));
        }
        let Some(found) = code_events.get(name) else {
            problems.push(format!(
                "docs/LOGS.md:{line}: event `{name}` is not written anywhere in src/"
            ));
            continue;
        };
        match doc_severities(after) {
            None => problems.push(format!(
                "docs/LOGS.md:{line}: event `{name}` has no `(severity)` after its name"
            )),
            Some(s) if found.checked && s != found.severities => problems.push(format!(
                "docs/LOGS.md:{line}: event `{name}` is listed as ({}) but {} logs it as ({})",
                joined(&s),
                found.first_at,
                joined(&found.severities)
            )),
            Some(_) => {}
        }
    }
    for (name, found) in &code_events {
        if !listed.contains(name) {
            problems.push(format!(
                "{}: event `{name}` is missing from docs/LOGS.md (add a line starting \"- `{name}` (severity):\" between the events markers)",
                found.first_at
            ));
        }
    }

    let mut alerts = BTreeSet::new();
    for (name, _, line) in &doc_alerts {
        if !alerts.insert(name.clone()) {
            problems.push(format!(
                "docs/LOGS.md:{line}: alert `{name}` is listed twice"
            ));
        }
        if !code_alerts.contains_key(name) {
            problems.push(format!(
                "docs/LOGS.md:{line}: alert `{name}` is not raised by src/daemon/exec.rs"
            ));
        }
    }
    for (name, at) in &code_alerts {
        if !alerts.contains(name) {
            problems.push(format!(
                "{at}: alert `{name}` is missing from docs/LOGS.md (between the alerts markers)"
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "docs/LOGS.md and the code disagree:\n{}",
        problems.join("\n")
    );
}

/// The extraction finds what it should in a made-up file, and nothing else.
#[test]
fn the_extraction_finds_new_events_and_skips_comments_and_tests() {
    let src = r##"
use log::{info, warn};
// info!("commented-out x=1")
/// Sends `error!(target: ALERT, ...)` lines.
fn f() {
    info!("new-event vserver={} x=1", 1);
    log::error!("fatal {line}");
    warn!(
        "spread-out a={}",
        2
    );
    error!(target: crate::os::log::ALERT, "alert event={event} node={name}");
    debug!(r#"raw-one "quoted" x=1"#);
    let _ = format_args!("logger-line n={n}");
    let _ = do_not_match_this_info!("no");
    let event = match kind {
        AlertKind::Lost { lost_for_ms } => {
            let _ = write!(field, "lost_for_ms={lost_for_ms}");
            "node-lost"
        }
        VsAlert::ForeignMac { mac } => ("foreign-mac", Some(mac)),
    };
    let _ = ("not-an-arm", 1);
}
#[cfg(test)]
mod tests {
    fn t() { info!("test-only x=1"); }
}
"##;
    let code = code_part(src);
    let mut events: Vec<(String, String)> = log_events(&code)
        .expect("every call has a literal")
        .into_iter()
        .map(|(e, s, _)| (e, s))
        .collect();
    events.sort();
    let want = [
        ("alert", "alert"),
        ("fatal", "error"),
        ("new-event", "info"),
        ("raw-one", "debug"),
        ("spread-out", "warn"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(e, s)| (e.to_string(), s.to_string()))
        .collect();
    assert_eq!(events, want);
    let logger: Vec<String> = logger_events(&code).into_iter().map(|(e, _)| e).collect();
    assert_eq!(logger, ["logger-line"]);
    let alerts: Vec<String> = alert_names(&code).into_iter().map(|(n, _)| n).collect();
    assert_eq!(alerts, ["node-lost", "foreign-mac"]);
    assert!(log_events("warn!(FORMAT)").is_err());
}
