//! Network interfaces: the list and link facts from `/sys/class/net`, addresses
//! from `getifaddrs(3)`, Wi-Fi signal from `/proc/net/wireless`.

use super::Error;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub hostname: String,
    pub interfaces: Vec<Interface>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Interface {
    pub name: String,
    /// null for links without a hardware address (tun, wireguard).
    pub mac: Option<String>,
    /// Administratively up (IFF_UP), as `ip link` shows `UP`.
    pub up: bool,
    /// The kernel's `operstate`: "up", "down", "unknown" (loopback), "dormant", ...
    pub operstate: String,
    pub mtu: u64,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Only for wireless interfaces listed in `/proc/net/wireless`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wifi: Option<Wifi>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Wifi {
    /// Link quality as the driver counts it (often out of 70).
    pub link_quality: f64,
    pub signal_dbm: f64,
}

pub fn read(hostname: String) -> Result<Network, Error> {
    let net = Path::new("/sys/class/net");
    let dir = std::fs::read_dir(net)
        .map_err(|e| Error::Unavailable(format!("cannot list {}: {e}", net.display())))?;
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut addresses = addresses()?;
    let wireless = std::fs::read_to_string("/proc/net/wireless")
        .map(|t| parse_wireless(&t))
        .unwrap_or_default();
    let interfaces = names
        .into_iter()
        .map(|name| {
            let sys = net.join(&name);
            let text = |f: &str| {
                std::fs::read_to_string(sys.join(f))
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            let num = |f: &str| super::system::read_u64(sys.join(f)).unwrap_or(0);
            let flags = text("flags")
                .and_then(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0);
            let (ipv4, ipv6) = addresses.remove(&name).unwrap_or_default();
            Interface {
                mac: text("address").filter(|m| !m.is_empty()),
                up: flags & libc::IFF_UP as u64 != 0,
                operstate: text("operstate").unwrap_or_else(|| "unknown".into()),
                mtu: num("mtu"),
                ipv4,
                ipv6,
                rx_bytes: num("statistics/rx_bytes"),
                tx_bytes: num("statistics/tx_bytes"),
                wifi: wireless.get(&name).copied(),
                name,
            }
        })
        .collect();
    Ok(Network {
        hostname,
        interfaces,
    })
}

pub(crate) type Addresses = BTreeMap<String, (Vec<String>, Vec<String>)>;

/// "a.b.c.d/nn" and "x::y/nn" per interface. IPv4 aliases carry a label
/// ("eth0:1"); they belong to the interface before the colon.
pub(crate) fn addresses() -> Result<Addresses, Error> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::Unavailable(format!("getifaddrs: {e}")));
    }
    let mut out = Addresses::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: a node of the list getifaddrs made; its pointers are valid or null.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        let name = name.split(':').next().unwrap_or_default().to_string();
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        let entry = out.entry(name).or_default();
        match family {
            libc::AF_INET => {
                // SAFETY: the family says these are sockaddr_in.
                let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    let mask = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) };
                    u32::from_be(mask.sin_addr.s_addr).count_ones()
                };
                entry.0.push(format!("{ip}/{prefix}"));
            }
            libc::AF_INET6 => {
                // SAFETY: the family says these are sockaddr_in6.
                let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
                let prefix = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    let mask = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in6) };
                    mask.sin6_addr.s6_addr.iter().map(|b| b.count_ones()).sum()
                };
                entry.1.push(format!("{ip}/{prefix}"));
            }
            _ => {}
        }
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// `/proc/net/wireless`: two header lines, then "iface: status link level noise ...".
/// Values may end in a '.' (the kernel marks updated ones that way).
pub fn parse_wireless(text: &str) -> BTreeMap<String, Wifi> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let num = |s: &str| s.trim_end_matches('.').parse::<f64>().ok();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if let (Some(link), Some(level)) = (
            fields.get(1).and_then(|s| num(s)),
            fields.get(2).and_then(|s| num(s)),
        ) {
            out.insert(
                name.trim().to_string(),
                Wifi {
                    link_quality: link,
                    signal_dbm: level,
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wireless_signal() {
        let text = "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n wlan0: 0000   58.  -52.  -256        0      0      0      0     12        0\n";
        let w = parse_wireless(text);
        assert_eq!(
            w.get("wlan0"),
            Some(&Wifi {
                link_quality: 58.0,
                signal_dbm: -52.0
            })
        );
        assert_eq!(w.len(), 1);
        assert!(parse_wireless("Inter-|\n face |\n").is_empty());
    }

    #[test]
    fn loopback_is_listed_with_its_address() {
        let n = read("h".into()).unwrap();
        let lo = n.interfaces.iter().find(|i| i.name == "lo").unwrap();
        assert!(lo.up);
        assert!(lo.ipv4.contains(&"127.0.0.1/8".to_string()), "{lo:?}");
    }
}
