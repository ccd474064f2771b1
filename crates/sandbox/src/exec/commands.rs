//! The programs a sandbox container has: what chaosdeck sends (`fallocate`, `rm`, `kill`,
//! `df`, `stat`) and what an operator looks around with (`ls`, `cat`); anything else is not
//! found and exits 127, as in a slim image; a distroless image has none of them.
//!
//! Owns: argument parsing and output text of those programs, in the POSIX shapes chaosdeck and
//! people parse. Must not touch API objects: a signal to PID 1 is returned as
//! [`Effect::Signal`] for the caller to hand to the kubelet.

use super::filesystems::{Filesystems, FsError, Mount, locate};

/// What a program printed and how it ended.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
    pub effect: Option<Effect>,
}

/// What a program did beyond its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A signal (1–15, each ends a process by default) was sent to the container's PID 1.
    Signal(u8),
}

impl Output {
    fn ok(stdout: String) -> Self {
        Output { stdout: stdout.into_bytes(), ..Default::default() }
    }

    fn fail(code: i32, stderr: String) -> Self {
        Output { stderr: format!("{stderr}\n").into_bytes(), code, ..Default::default() }
    }
}

/// Whether a container of `image` has the programs at all: distroless images have none.
pub fn has_programs(image: &str) -> bool {
    !image.contains("distroless")
}

/// What running `argv` in a container without it gives.
pub fn not_found(argv: &[String]) -> Output {
    let program = argv.first().map(String::as_str).unwrap_or("");
    Output::fail(
        127,
        format!("exec: \"{}\": executable file not found in $PATH", program.escape_debug()),
    )
}

pub fn run(fs: &Filesystems, table: &[Mount], argv: &[String]) -> Output {
    let Some(program) = argv.first() else {
        return not_found(argv);
    };
    let args = &argv[1..];
    match program.rsplit('/').next().unwrap_or(program) {
        "df" => df(fs, table, args),
        "ls" => ls(fs, table, args),
        "cat" => cat(fs, table, args),
        "stat" => stat(fs, table, args),
        "fallocate" => fallocate(fs, table, args),
        "rm" => rm(fs, table, args),
        "kill" => kill(args),
        _ => not_found(argv),
    }
}

/// Splits `-x`-style flags from operands; `--` ends the flags.
fn split_flags(args: &[String]) -> (Vec<&str>, Vec<&str>) {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut only_operands = false;
    for a in args {
        if !only_operands && a == "--" {
            only_operands = true;
        } else if !only_operands && a.starts_with('-') && a.len() > 1 {
            flags.push(a.as_str());
        } else {
            operands.push(a.as_str());
        }
    }
    (flags, operands)
}

/// `df -P -k [PATH...]`: 1024-byte blocks, capacity rounded up, as coreutils prints them.
fn df(fs: &Filesystems, table: &[Mount], args: &[String]) -> Output {
    let (_, paths) = split_flags(args);
    let mounts: Vec<Mount> = if paths.is_empty() {
        table.to_vec()
    } else {
        let mut chosen = Vec::new();
        for p in paths {
            let at = locate(table, p);
            if !at.inner.is_empty() && fs.file(&at).is_none() && !fs.is_dir(table, &at) {
                return Output::fail(1, format!("df: {p}: {}", FsError::NotFound.text()));
            }
            chosen.push(at.mount);
        }
        chosen
    };
    let mut text =
        "Filesystem     1024-blocks      Used Available Capacity Mounted on\n".to_string();
    for m in mounts {
        let used = fs.used(&m).min(m.capacity);
        let blocks = m.capacity / 1024;
        let used_k = used.div_ceil(1024);
        let avail = blocks.saturating_sub(used_k);
        let pct = if blocks == 0 { 0 } else { (used_k * 100).div_ceil(blocks) };
        text.push_str(&format!(
            "{:<14} {:>11} {:>9} {:>9} {:>7}% {}\n",
            m.device, blocks, used_k, avail, pct, m.path
        ));
    }
    Output::ok(text)
}

fn ls(fs: &Filesystems, table: &[Mount], args: &[String]) -> Output {
    let (flags, paths) = split_flags(args);
    let long = flags.iter().any(|f| f.contains('l'));
    let paths = if paths.is_empty() { vec!["."] } else { paths };
    let mut out = String::new();
    let mut code = 0;
    let mut err = String::new();
    for p in paths {
        let at = locate(table, p);
        let line = |name: &str, size: Option<u64>| match (long, size) {
            (false, _) => format!("{name}\n"),
            (true, Some(s)) => format!("-rw-r--r-- 1 root root {s} Jan  1 00:00 {name}\n"),
            (true, None) => format!("drwxr-xr-x 2 root root 4096 Jan  1 00:00 {name}\n"),
        };
        if let Some(file) = fs.file(&at) {
            out.push_str(&line(p, Some(file.size)));
        } else if fs.is_dir(table, &at) {
            for (name, size) in fs.list(table, &at) {
                out.push_str(&line(&name, size));
            }
        } else {
            code = 2;
            err.push_str(&format!("ls: cannot access '{p}': {}\n", FsError::NotFound.text()));
        }
    }
    Output { stdout: out.into_bytes(), stderr: err.into_bytes(), code, effect: None }
}

fn cat(fs: &Filesystems, table: &[Mount], args: &[String]) -> Output {
    let (_, paths) = split_flags(args);
    let mut out = Vec::new();
    for p in paths {
        let at = locate(table, p);
        match fs.file(&at) {
            Some(f) if f.content.len() as u64 == f.size => out.extend_from_slice(&f.content),
            // A filled file reads as the zeros fallocate reserved; printing gigabytes helps nobody.
            Some(_) => return Output::fail(1, format!("cat: {p}: File too large")),
            None if fs.is_dir(table, &at) => {
                return Output::fail(1, format!("cat: {p}: {}", FsError::IsDirectory.text()));
            }
            None => return Output::fail(1, format!("cat: {p}: {}", FsError::NotFound.text())),
        }
    }
    Output { stdout: out, ..Default::default() }
}

/// `stat -c FORMAT PATH` with `%s` (size), `%n` (name) and `%F` (type); plain `stat` prints
/// the first two lines coreutils prints.
fn stat(fs: &Filesystems, table: &[Mount], args: &[String]) -> Output {
    let mut format = None;
    let mut paths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" | "--format" => format = it.next().cloned(),
            s if s.starts_with("--format=") => format = Some(s["--format=".len()..].to_string()),
            s => paths.push(s.to_string()),
        }
    }
    let mut out = String::new();
    for p in paths {
        let at = locate(table, &p);
        let (size, kind) = match fs.file(&at) {
            Some(f) => (f.size, "regular file"),
            None if fs.is_dir(table, &at) => (4096, "directory"),
            None => {
                return Output::fail(
                    1,
                    format!("stat: cannot statx '{p}': {}", FsError::NotFound.text()),
                );
            }
        };
        match &format {
            Some(f) => {
                let line = f.replace("%s", &size.to_string()).replace("%n", &p).replace("%F", kind);
                out.push_str(&line);
                out.push('\n');
            }
            None => out.push_str(&format!(
                "  File: {p}\n  Size: {size}\tBlocks: {}\tIO Block: 4096\t{kind}\n",
                size.div_ceil(512)
            )),
        }
    }
    Output::ok(out)
}

/// `fallocate -l LENGTH PATH`, LENGTH in bytes or with util-linux's suffixes (K, M, G are
/// powers of 1024; KB, MB, GB of 1000).
fn fallocate(fs: &Filesystems, table: &[Mount], args: &[String]) -> Output {
    let mut length = None;
    let mut path = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-l" | "--length" => length = it.next().map(|l| (l.clone(), parse_length(l))),
            s => path = Some(s.to_string()),
        }
    }
    let (Some((text, length)), Some(path)) = (length, path) else {
        return Output::fail(1, "fallocate: no length argument specified".into());
    };
    let Some(length) = length else {
        return Output::fail(1, format!("fallocate: invalid length value specified: '{text}'"));
    };
    match fs.allocate(&locate(table, &path), length) {
        Ok(()) => Output::default(),
        Err(e) => Output::fail(1, format!("fallocate: fallocate failed: {}", e.text())),
    }
}

fn parse_length(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (n, suffix) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let factor: u64 = match suffix {
        "" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn rm(fs: &Filesystems, table: &[Mount], args: &[String]) -> Output {
    let (flags, paths) = split_flags(args);
    let force = flags.iter().any(|f| f.contains('f'));
    for p in paths {
        let at = locate(table, p);
        if fs.file(&at).is_none() && fs.is_dir(table, &at) {
            return Output::fail(
                1,
                format!("rm: cannot remove '{p}': {}", FsError::IsDirectory.text()),
            );
        }
        if let Err(e) = fs.remove(&at)
            && !(force && e == FsError::NotFound)
        {
            return Output::fail(1, format!("rm: cannot remove '{p}': {}", e.text()));
        }
    }
    Output::default()
}

/// `kill -s SIGNAL 1`, `kill -SIGNAL 1` or `kill -N 1`. Only PID 1 exists in the model.
fn kill(args: &[String]) -> Output {
    let mut signal = None;
    let mut pids = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-s" {
            signal = it.next().map(|s| signal_number(s).ok_or(s.clone()));
        } else if let Some(s) = a.strip_prefix('-') {
            signal = Some(signal_number(s).ok_or(a.clone()));
        } else {
            pids.push(a.clone());
        }
    }
    let signal = match signal.unwrap_or(Ok(15)) {
        Ok(s) => s,
        Err(s) => return Output::fail(1, format!("kill: invalid signal specification: {s}")),
    };
    if pids.is_empty() {
        return Output::fail(1, "kill: no process ID specified".into());
    }
    for pid in &pids {
        if pid != "1" {
            return Output::fail(1, format!("kill: ({pid}) - No such process"));
        }
    }
    Output { effect: Some(Effect::Signal(signal)), ..Default::default() }
}

const SIGNALS: [&str; 15] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM",
];

fn signal_number(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (1..=15).contains(&n).then_some(n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    SIGNALS.iter().position(|n| *n == name).and_then(|i| u8::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::super::filesystems::normalize;
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn table() -> Vec<Mount> {
        let store = crate::store::Store::default();
        let pod = serde_json::json!({
            "metadata": {"name": "p", "namespace": "n", "uid": "u1"},
            "spec": {
                "containers": [{"name": "c", "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
                "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}]
            }
        });
        super::super::filesystems::mounts(&store, &pod, "c")
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn a_fill_shows_in_df_and_goes_with_rm() {
        let fs = Filesystems::default();
        let t = table();
        let out = run(&fs, &t, &argv(&["fallocate", "-l", "512K", "/scratch/f"]));
        assert_eq!((out.code, text(&out.stderr)), (0, String::new()));
        let out = run(&fs, &t, &argv(&["df", "-P", "-k", "/scratch"]));
        let line = text(&out.stdout).lines().nth(1).map(str::to_string).unwrap_or_default();
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols, ["emptydir", "1024", "512", "512", "50%", "/scratch"]);
        let out = run(&fs, &t, &argv(&["fallocate", "-l", "600K", "/scratch/g"]));
        assert_eq!(out.code, 1);
        assert!(text(&out.stderr).contains("No space left on device"));
        assert_eq!(run(&fs, &t, &argv(&["rm", "-f", "--", "/scratch/f"])).code, 0);
        let out = run(&fs, &t, &argv(&["stat", "-c", "%s", "/scratch/f"]));
        assert_eq!(out.code, 1);
        assert_eq!(normalize("/scratch/../scratch/f"), "/scratch/f");
    }

    #[test]
    fn kill_names_pid_one_only_and_unknown_programs_exit_127() {
        let fs = Filesystems::default();
        let t = table();
        assert_eq!(
            run(&fs, &t, &argv(&["kill", "-s", "KILL", "1"])).effect,
            Some(Effect::Signal(9))
        );
        assert_eq!(
            run(&fs, &t, &argv(&["kill", "-SIGTERM", "1"])).effect,
            Some(Effect::Signal(15))
        );
        assert_eq!(run(&fs, &t, &argv(&["kill", "-2", "1"])).effect, Some(Effect::Signal(2)));
        assert_eq!(run(&fs, &t, &argv(&["kill", "-9", "42"])).code, 1);
        assert_eq!(run(&fs, &t, &argv(&["kill", "-s", "17", "1"])).code, 1);
        let out = run(&fs, &t, &argv(&["sh", "-c", "rm -rf /"]));
        assert_eq!(out.code, 127);
        assert!(text(&out.stderr).contains("\"sh\": executable file not found"));
    }
}
