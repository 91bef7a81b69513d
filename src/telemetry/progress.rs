//! Progress of the commands that run for more than a second (`seed`, `check`):
//! an `indicatif` bar when stderr is a terminal, and plain lines at most once a
//! second otherwise, so a CI log or a redirected file gets a readable record
//! instead of escape codes.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the plain-line form reports.
const LINE_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    shown: Shown,
}

enum Shown {
    Bar(ProgressBar),
    Lines { last: Instant },
}

impl Progress {
    /// Work of `total` units (0 = unknown: a spinner, or lines with no total).
    pub(crate) fn new(label: &str, total: u64) -> Self {
        Self::with_terminal(label, total, std::io::stderr().is_terminal())
    }

    fn with_terminal(label: &str, total: u64, terminal: bool) -> Self {
        let shown = if terminal {
            let bar = if total > 0 {
                let bar = ProgressBar::new(total);
                let style = ProgressStyle::with_template(
                    "{msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar
            } else {
                let spinner = ProgressBar::new_spinner();
                spinner.enable_steady_tick(Duration::from_millis(100));
                spinner
            };
            bar.set_message(label.to_string());
            Shown::Bar(bar)
        } else {
            eprintln!("{label}: started");
            Shown::Lines { last: Instant::now() }
        };
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            started: Instant::now(),
            shown,
        }
    }

    pub(crate) fn advance(&mut self, by: u64) {
        self.done += by;
        match &mut self.shown {
            Shown::Bar(bar) => bar.inc(by),
            Shown::Lines { last } => {
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!("{}", self.line());
                }
            }
        }
    }

    /// Ends the report with `message`.
    pub(crate) fn finish(self, message: &str) {
        if let Shown::Bar(bar) = &self.shown {
            bar.finish_and_clear();
        }
        eprintln!("{}: {message} in {:.1?}", self.label, self.started.elapsed());
    }

    /// `seeding users: 150000/1000000 (15%), 98000/s`
    fn line(&self) -> String {
        let per_second = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        if self.total > 0 {
            format!(
                "{}: {}/{} ({}%), {per_second:.0}/s",
                self.label,
                self.done,
                self.total,
                self.done * 100 / self.total
            )
        } else {
            format!("{}: {} done, {per_second:.0}/s", self.label, self.done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_says_how_far_and_how_fast() {
        let mut progress = Progress::with_terminal("seeding users", 200, false);
        progress.advance(50);
        let line = progress.line();
        assert!(line.starts_with("seeding users: 50/200 (25%), "), "{line}");
        assert!(line.ends_with("/s"), "{line}");
        let mut open_ended = Progress::with_terminal("checking", 0, false);
        open_ended.advance(3);
        assert!(open_ended.line().starts_with("checking: 3 done"));
    }
}
