//! Synthetic input for the throughput benchmark: multilingual prose and
//! CSV rows with realistic density of sensitive values and lookalikes.
//! Deterministic (seeded) so runs are comparable. Not used to tune or to
//! evaluate recognizers: the quality corpus is written separately.

use std::io::Write;

/// xorshift64*: enough randomness for test data, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// Appends the Luhn check digit to `body`.
pub fn with_luhn(body: &str) -> String {
    let mut s = body.to_string();
    for d in 0..10u8 {
        s.push(char::from(b'0' + d));
        if crate::validate::luhn(s.as_bytes()) {
            return s;
        }
        s.pop();
    }
    unreachable!("one of ten check digits always satisfies Luhn")
}

pub fn card(rng: &mut Rng) -> String {
    let body = format!("4{}", rng.digits(14));
    with_luhn(&body)
}

fn ssn(rng: &mut Rng) -> String {
    format!(
        "{:03}-{:02}-{:04}",
        1 + rng.below(665),
        1 + rng.below(98),
        1 + rng.below(9998)
    )
}

const PROSE: &[&str] = &[
    "The incident response team reviewed the logs from the affected servers and found no further activity after the patch was applied.",
    "Следователь запросил сведения об абоненте и журналы подключений за указанный период, ответ ожидается в течение тридцати дней.",
    "Die Anfrage wurde am Montag übermittelt; die zuständige Behörde bestätigte den Eingang und kündigte eine Antwort an.",
    "La demande d'entraide a été transmise au point de contact national, qui a accusé réception le jour même.",
    "该请求已通过国家联络点转交，对方已确认收到并将在规定期限内答复。",
    "Build 4.2.1.7 of the agent was deployed; checksum e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 verified.",
    "Ticket 2024-03-15T10:22:31Z closed, reference 1234567890123456, version 10.0.19041.1 noted, total 19.99 EUR.",
];

fn sensitive(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 => format!("SSN {}", ssn(rng)),
        1 => format!("card {}", card(rng)),
        2 => format!("contact user{}@example.org", rng.below(100_000)),
        3 => format!(
            "tel +7 495 {}-{}-{}",
            rng.digits(3),
            rng.digits(2),
            rng.digits(2)
        ),
        4 => format!("from 198.51.{}.{}", rng.below(256), rng.below(256)),
        5 => format!(
            "lat {}.{} lon {}.{}",
            rng.below(90),
            rng.digits(5),
            rng.below(180),
            rng.digits(5)
        ),
        6 => format!("IMEI {}", with_luhn(&format!("35{}", rng.digits(12)))),
        7 => "IBAN DE89 3704 0044 0532 0130 00".to_string(),
        _ => format!(
            "mac 00:1a:2b:{:02x}:{:02x}:{:02x}",
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ),
    }
}

/// Writes about `bytes` of text, one sensitive value every few lines.
pub fn write_text(w: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    while written < bytes {
        let mut line = rng.pick(PROSE).to_string();
        if rng.below(3) == 0 {
            line.push(' ');
            line.push_str(&sensitive(&mut rng));
            line.push('.');
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(())
}

/// Writes about `bytes` of CSV with identifier, health and location columns.
pub fn write_csv(w: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let header = "id,name,email,phone,ssn,dob,diagnosis,lat,lon,card_number,ip,notes\n";
    w.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let names = [
        "Ann Smith",
        "Иван Петров",
        "Jürgen Müller",
        "Zoé Martin",
        "王伟",
    ];
    let dx = ["E11.9", "I10", "J45.909", "F32.A", "none"];
    let mut id = 0u64;
    while written < bytes {
        id += 1;
        let row = format!(
            "{id},{},user{}@example.org,+1 415 555 {},{},19{}-0{}-1{},{},{}.{},-{}.{},{},10.{}.{}.{},\"note, {}\"\n",
            rng.pick(&names),
            rng.below(1_000_000),
            rng.digits(4),
            ssn(&mut rng),
            10 + rng.below(89),
            1 + rng.below(9),
            rng.below(10),
            rng.pick(&dx),
            rng.below(90),
            rng.digits(4),
            rng.below(180),
            rng.digits(4),
            card(&mut rng),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.pick(PROSE).split(' ').next().unwrap_or(""),
        );
        w.write_all(row.as_bytes())?;
        written += row.len() as u64;
    }
    Ok(())
}
