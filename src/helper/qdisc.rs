//! A netem qdisc as `tc` spells it: added at the root of each device with a handle chosen for
//! the entry (recorded in the entry and the helper's state), found again and deleted by that
//! handle only — another root qdisc on the device is never touched.

/// Delay, loss and rate on the root of `devs`, under handle `handle:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netem {
    pub devs: Vec<String>,
    pub handle: u16,
    /// `100ms`, `1s`, `500us`.
    pub delay: Option<String>,
    /// Percent, digits only (Krkn's form).
    pub loss: Option<String>,
    /// `1gbit`, `500kbit`.
    pub rate: Option<String>,
}

fn digits_then(s: &str, units: &[&str]) -> bool {
    let cut = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    cut > 0 && units.contains(&&s[cut..])
}

/// Checks Krkn's forms: latency `\d+(us|ms|s)`, loss digits (0–100), bandwidth
/// `\d+(bit|kbit|mbit|gbit|tbit)`.
pub fn check(delay: Option<&str>, loss: Option<&str>, rate: Option<&str>) -> Result<(), String> {
    if let Some(d) = delay
        && !digits_then(d, &["us", "ms", "s"])
    {
        return Err(format!("latency {d:?} is not like 100ms, 500us or 1s"));
    }
    if let Some(l) = loss
        && !l.parse::<u8>().is_ok_and(|n| n <= 100)
    {
        return Err(format!("loss {l:?} is not a percentage 0 to 100 (digits only)"));
    }
    if let Some(r) = rate
        && !digits_then(r, &["bit", "kbit", "mbit", "gbit", "tbit"])
    {
        return Err(format!("bandwidth {r:?} is not like 1gbit or 500kbit"));
    }
    if delay.is_none() && loss.is_none() && rate.is_none() {
        return Err("neither latency, loss nor bandwidth is set".into());
    }
    Ok(())
}

/// An interface name the kernel accepts (and nothing a shell or tc would read as more).
pub fn check_dev(dev: &str) -> Result<(), String> {
    let ok = !dev.is_empty()
        && dev.len() <= 15
        && dev.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok { Ok(()) } else { Err(format!("{dev:?} is not an interface name")) }
}

/// The handle of entry `tag`'s qdiscs: a 16-bit major in 0x1000–0xefff from the tag (FNV-1a),
/// clear of the kernel's automatic 0x8000+ handles' usual start and of 0 and 0xffff.
pub fn handle_of(tag: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in tag.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    0x1000 + (h % 0xe000) as u16
}

impl Netem {
    pub fn handle_word(&self) -> String {
        format!("{:x}:", self.handle)
    }

    fn params(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = &self.delay {
            out.extend(["delay".to_string(), d.clone()]);
        }
        if let Some(l) = &self.loss {
            out.extend(["loss".to_string(), format!("{l}%")]);
        }
        if let Some(r) = &self.rate {
            out.extend(["rate".to_string(), r.clone()]);
        }
        out
    }

    fn words(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    pub fn add_args(&self, dev: &str) -> Vec<String> {
        let h = self.handle_word();
        let mut args = Self::words(&["qdisc", "add", "dev", dev, "root", "handle", &h, "netem"]);
        args.extend(self.params());
        args
    }

    pub fn del_args(&self, dev: &str) -> Vec<String> {
        Self::words(&["qdisc", "del", "dev", dev, "root", "handle", &self.handle_word()])
    }

    pub fn show_args(dev: &str) -> Vec<String> {
        Self::words(&["qdisc", "show", "dev", dev])
    }

    /// The lines of `tc qdisc show dev …` that are this qdisc.
    pub fn held<'a>(&self, shown: &'a str) -> Vec<&'a str> {
        let prefix = format!("qdisc netem {} root", self.handle_word());
        shown.lines().filter(|l| l.starts_with(&prefix)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krkn_forms_are_checked_and_handles_stay_in_range() {
        assert_eq!(check(Some("100ms"), Some("10"), Some("1gbit")), Ok(()));
        assert!(check(Some("100"), None, None).is_err());
        assert!(check(None, Some("10%"), None).is_err());
        assert!(check(None, Some("101"), None).is_err());
        assert!(check(None, None, Some("fast")).is_err());
        assert!(check(None, None, None).is_err());
        assert!(check_dev("eth0").is_ok() && check_dev("eth0; reboot").is_err());
        for tag in ["1795-abcdefgh", "1796-zzzzzzzz", "x"] {
            let h = handle_of(tag);
            assert!((0x1000..0xf000).contains(&h), "{h:x}");
        }
        assert_ne!(handle_of("1795-abcdefgh"), handle_of("1795-abcdefgi"));
    }
}
