//! Names for objects chaosdeck creates: Krkn's `<prefix>-<random lowercase>` shape.

use rand::Rng;

pub fn random_name(prefix: &str, len: usize) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..len).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect();
    format!("{prefix}-{tail}")
}
