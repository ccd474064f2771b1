//! The Journal panel: runs → contexts → entries, newest first, with counts and state badges.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::super::app::{App, Focus};

pub fn draw(frame: &mut Frame, app: &mut App, area: Rect) {
    let filter =
        if app.filter.is_empty() { String::new() } else { format!(" filter: {} ", app.filter) };
    // Which journal this is: an empty tree of the wrong directory must not read as all clear.
    let title = if app.tree.root.as_os_str().is_empty() {
        format!(" Journal {} pending{filter} ", app.outstanding())
    } else {
        // The path last: the panel may cut it, never the count or the filter.
        format!(" Journal {} pending{filter} · {} ", app.outstanding(), short_path(&app.tree.root))
    };
    let block = super::panel::panel(app, title, Focus::Journal);
    let highlight = app.theme.selected();
    app.tree_view.draw(frame, area, block, highlight);
}

/// The last two components of a journal's path (`chaosdeck/rollback`,
/// `chaosdeck/sandbox-rollback`, `.krkn/rollback`): enough to tell the usual journals apart in a
/// panel title; the full path is in the status line of `inspect` and in `list-rollback`.
fn short_path(path: &std::path::Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [last, parent] if path.components().count() > 2 => format!("…/{parent}/{last}"),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_is_named_by_its_last_two_components() {
        assert_eq!(
            short_path(std::path::Path::new("/home/op/.local/state/chaosdeck/sandbox-rollback")),
            "…/chaosdeck/sandbox-rollback"
        );
        assert_eq!(short_path(std::path::Path::new("/j")), "/j");
    }
}
