//! One JSON object per event, one per line, for machines.

use crate::events::{Event, EventSink};
use std::io::Write;
use std::sync::Mutex;

pub struct JsonLines<W: Write + Send>(pub Mutex<W>);

impl<W: Write + Send> EventSink for JsonLines<W> {
    fn emit(&self, event: Event) {
        if let (Ok(mut out), Ok(line)) = (self.0.lock(), serde_json::to_string(&event)) {
            let _ = writeln!(out, "{line}");
        }
    }
}
