//! A byte progress bar on a terminal; nothing in pipes and logs.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Shows ingest progress when stderr is a terminal.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(quiet: bool) -> Self {
        let show = !quiet && std::io::stderr().is_terminal();
        Self {
            bar: show.then(ProgressBar::no_length),
        }
    }
}

impl Bar {
    /// Show a spinner for a stage without a byte count (aggregating, writing).
    pub fn stage(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(message.to_owned());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
    }

    /// Show a bar counting `total` items (tiles).
    pub fn counter(&self, message: &str, total: u64) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(message.to_owned());
        }
    }

    /// Count `n` more items.
    pub fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Clear whatever is shown.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl hexcover_ingest::Progress for Bar {
    fn start(&self, input: &str, total_bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(total_bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(input.to_owned());
        }
    }

    fn advance_to(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
