use crate::DomainError;
use std::fmt;

/// The officially assigned ISO 3166-1 alpha-2 codes (249 as of 2024).
const CODES: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK \
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY \
MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU \
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A country as an ISO 3166-1 alpha-2 code. Jurisdiction rules (the transfer gate)
/// key on it, so only assigned codes are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a code case-insensitively (`de` and `DE` are Germany).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let up = s.trim().to_ascii_uppercase();
        let known = up.len() == 2 && CODES.split(' ').any(|c| c == up);
        if !known {
            return Err(DomainError::Country(s.to_string()));
        }
        let b = up.as_bytes();
        Ok(Country([b[0], b[1]]))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Country {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_every_assigned_code() {
        assert_eq!(CODES.split(' ').count(), 249);
    }

    #[test]
    fn parses_case_insensitively_and_refuses_unassigned() {
        assert_eq!(Country::parse("de").unwrap().as_str(), "DE");
        assert_eq!(Country::parse("HK").unwrap().to_string(), "HK");
        for bad in ["", "D", "DEU", "XX", "UK", "EU", "1A", "zz"] {
            assert!(Country::parse(bad).is_err(), "{bad}");
        }
    }
}
