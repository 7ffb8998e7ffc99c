//! Small helpers shared by every stage (the bottom of the module graph: imports nothing of
//! the crate).

use std::time::Duration;

/// `30s` as (30.0, "s"): the leading decimal number and the rest.
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    Some((number.parse().ok()?, unit))
}

/// Parses `500ms`, `30s`, `5m`, `2h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (n, unit) = number_and_unit(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 30s, 5m, 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{text:?} is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A memory size: bytes (`512MiB`, `4GiB`, `2000000`) or a share of the machine's memory
/// (`25%`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemorySize {
    Bytes(u64),
    Fraction(f64),
}

impl MemorySize {
    /// The size in bytes on a machine with `total` bytes of memory.
    pub fn resolve(self, total: u64) -> u64 {
        match self {
            MemorySize::Bytes(b) => b,
            MemorySize::Fraction(f) => (total as f64 * f) as u64,
        }
    }
}

impl std::fmt::Display for MemorySize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemorySize::Bytes(b) => write!(f, "{}", human_bytes(*b)),
            MemorySize::Fraction(x) => write!(f, "{}%", x * 100.0),
        }
    }
}

/// Parses `25%`, `512MiB`, `4GiB`, `100MB`, `64k` or a plain number of bytes.
pub fn parse_memory_size(text: &str) -> Result<MemorySize, String> {
    let text = text.trim();
    if let Some(p) = text.strip_suffix('%') {
        let x: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a percentage like 25%"))?;
        if !(x > 0.0 && x <= 100.0) {
            return Err(format!(
                "{text:?}: a share of memory is between 0% and 100%"
            ));
        }
        return Ok(MemorySize::Fraction(x / 100.0));
    }
    let (n, unit) = number_and_unit(text)
        .ok_or_else(|| format!("{text:?} is not a size like 512MiB, 4GiB or 25%"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use KiB, MiB, GiB or %)"
            ));
        }
    };
    let bytes = n * scale;
    if !bytes.is_finite() || bytes < 0.0 {
        return Err(format!("{text:?} is not a valid size"));
    }
    Ok(MemorySize::Bytes(bytes as u64))
}

/// `1.5 GiB`-style text for a byte count.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = b as f64;
    let mut i = 0;
    while x >= 1024.0 && i + 1 < UNITS.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

/// The machine's memory in bytes (`MemTotal` of /proc/meminfo; 8 GiB where unknown).
pub fn system_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(8 << 30, |kib| kib * 1024)
}

/// Prints one line to stdout. When the reader went away (`finlake db status | head -1`) the
/// process ends quietly with status 0, as a writer into `head` is expected to, instead of the
/// panic `println!` gives on a closed pipe.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        tracing::warn!(error = %e, "writing to stdout failed");
    }
}

/// `println!` for command output: see [`say`].
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {
        $crate::util::say(format_args!($($t)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("25%"), Ok(MemorySize::Fraction(0.25)));
        assert_eq!(
            parse_memory_size("512MiB"),
            Ok(MemorySize::Bytes(512 << 20))
        );
        assert_eq!(parse_memory_size("4GiB"), Ok(MemorySize::Bytes(4 << 30)));
        assert_eq!(parse_memory_size("1000"), Ok(MemorySize::Bytes(1000)));
        assert!(parse_memory_size("0%").is_err());
        assert!(parse_memory_size("120%").is_err());
        assert!(parse_memory_size("4 parsecs").is_err());
        assert_eq!(MemorySize::Fraction(0.5).resolve(1000), 500);
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert!(system_memory_bytes() > 0);
    }
}
