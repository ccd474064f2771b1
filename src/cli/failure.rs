//! Which exit code an error that ends a subcommand gets.

use super::embedded;

/// Bad input when a file or argument was wrong; environment when the machine or the cluster
/// failed us. Messages made with `bail!` in the subcommands are argument checks: bad input.
pub(crate) fn exit_code_of(e: &color_eyre::Report) -> u8 {
    use crate::journal::JournalError;
    let environment = e.chain().any(|cause| {
        cause.is::<std::io::Error>()
            || cause.is::<kube::Error>()
            || embedded::is_environment_error(cause)
            || matches!(
                cause.downcast_ref::<JournalError>(),
                Some(JournalError::Io { .. } | JournalError::Busy { .. })
            )
    });
    let bad_file = e.chain().any(|cause| {
        cause.is::<crate::config::ConfigError>()
            || cause.is::<crate::tui::keys::KeyMapError>()
            || matches!(cause.downcast_ref::<JournalError>(), Some(JournalError::Invalid { .. }))
    });
    if environment && !bad_file { crate::exit::ENVIRONMENT } else { crate::exit::BAD_INPUT }
}
