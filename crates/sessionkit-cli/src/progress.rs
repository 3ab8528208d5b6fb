//! The progress indicator of long commands: a spinner on stderr while the
//! work runs, only when stderr is a terminal (scripts and logs get nothing).
//!
//! A spinner rather than a bar: the library's `clear_expired` deletes in
//! batches inside one call and reports only the total, so there is no
//! position to show.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A running indicator; dropped or finished, it clears itself.
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Starts a spinner showing `message` and the elapsed time.
    pub(crate) fn start(message: impl Into<String>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(100));
        Self { bar }
    }

    /// Replaces the spinner with a final line (terminal only).
    pub(crate) fn finish(self, message: impl Into<String>) {
        self.bar.finish_with_message(message.into());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// Whether an indicator would be drawn (so work done only for it, such as
/// counting first, can be skipped).
pub(crate) fn is_shown() -> bool {
    std::io::stderr().is_terminal()
}
