//! Who wrote the undo actions being judged: admission is stricter for chaosdeck's own entries
//! than for its mapping of Krkn's files, which record names only.

/// Who wrote the actions being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// A chaosdeck entry (a local file or a mirror): everything is checked.
    Chaosdeck,
    /// chaosdeck's own mapping of a Krkn callable: Krkn records names only, so its deletes
    /// carry no uid; kinds and namespaces are still checked.
    KrknMapping,
}
