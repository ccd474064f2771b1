//! Names: for objects chaosdeck creates (Krkn's `<prefix>-<random lowercase>` shape), and the
//! one namespace a `^name$` pattern names.

use rand::Rng;

pub fn random_name(prefix: &str, len: usize) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..len).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect();
    format!("{prefix}-{tail}")
}

/// The one namespace a pattern such as `^shop$` matches; `None` for a real pattern (its
/// permissions are then needed in every namespace).
pub fn literal_namespace(re: &regex::Regex) -> Option<String> {
    let name = re.as_str().strip_prefix('^')?.strip_suffix('$')?;
    crate::refs::is_dns_label(name).then(|| name.to_string())
}
