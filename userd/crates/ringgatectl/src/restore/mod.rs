//! `ringgatectl restore -f FILE`: applies a file of `ringgatectl` lines (as
//! `save` prints them) in three passes, so that a bad file changes nothing:
//! parse every line, then plan every request against the namespace's state,
//! then send them.

mod parse;
mod plan;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;

use ringgate_netlink::Client;

use crate::exit::Failure;
use crate::state::Target;

pub(crate) fn run(file: &Path) -> Result<(), Failure> {
    let (name, text) = read(file)?;
    // The file is parsed before connecting: a bad line is reported the
    // same whether or not the module is loaded.
    let lines = parse::parse(&text).map_err(|bad| Failure::bad_input(format!("{name}: {bad}")))?;
    let mut client = Client::connect()?;
    restore(&mut client, &lines).map_err(|failure| Failure {
        message: format!("{name}: {}", failure.message),
        ..failure
    })
}

/// Plans every line against `target`'s state, then applies the plan. A
/// request the kernel refuses (what only the kernel can check, such as a
/// VIP taken that no interface has) stops the restore at its line, and the
/// requests sent before it are undone, newest first, so the configuration
/// is as it was (the versions move, and what a change did meanwhile, such
/// as gratuitous ARPs sent, stays done). Only an undo the kernel refuses
/// too (the namespace changed meanwhile) leaves part of the file applied,
/// and the error says so.
fn restore(target: &mut impl Target, lines: &[parse::Line]) -> Result<(), Failure> {
    let state = target.state()?;
    let steps = plan::plan(&state, lines).map_err(|bad| Failure::bad_input(bad.to_string()))?;
    for (sent, step) in steps.iter().enumerate() {
        if let Err(e) = target.apply(&step.change) {
            let failure = Failure::from(e);
            let outcome = undo(target, &steps[..sent]);
            return Err(Failure {
                message: format!("line {}: {}; {outcome}", step.line, failure.message),
                ..failure
            });
        }
    }
    Ok(())
}

/// Undoes `applied`, newest first, and says how that went.
fn undo(target: &mut impl Target, applied: &[plan::Step]) -> String {
    for step in applied.iter().rev() {
        if let Err(e) = target.apply(&step.undo) {
            return format!(
                "undoing line {} failed too ({}): what the lines up to line {} sent stays applied",
                step.line,
                Failure::from(e).message,
                step.line
            );
        }
    }
    match applied.len() {
        0 => "nothing was sent before it".to_string(),
        1 => "the change sent before it was undone".to_string(),
        n => format!("the {n} changes sent before it were undone"),
    }
}

/// The file's name for messages and its text; `-` is standard input.
fn read(file: &Path) -> Result<(String, String), Failure> {
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::other(format!("reading standard input: {e}")))?;
        return Ok(("<stdin>".into(), text));
    }
    let name = file.display().to_string();
    // A file that cannot be read is bad input, as a bad line in it is.
    text = std::fs::read_to_string(file).map_err(|e| Failure::bad_input(format!("{name}: {e}")))?;
    Ok((name, text))
}
