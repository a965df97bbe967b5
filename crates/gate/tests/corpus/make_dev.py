#!/usr/bin/env python3
"""Builds dev.jsonl, the hand-written development corpus for the recognizers.

Each document below is written by hand with inline labels: [[type|value]].
The script strips the markup and records byte offsets (UTF-8, end
exclusive). Check digits of cards/IMEIs are computed here from hand-picked
bodies ({luhn:BODY}); every labelled value is validated independently in
Python (Luhn, IBAN mod-97, Base58Check, bech32) so a typo in the corpus
cannot silently become a "negative". This file shares no code or templates
with the Rust benchmark generator (src/gen.rs).

Run: python3 make_dev.py > dev.jsonl
"""
import hashlib
import json
import re
import sys

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def luhn_ok(d):
    s = 0
    for i, ch in enumerate(reversed(d)):
        x = int(ch)
        if i % 2:
            x *= 2
            if x > 9:
                x -= 9
        s += x
    return s % 10 == 0


def luhn(body):
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c
    raise ValueError(body)


def iban_ok(s):
    s = re.sub(r"[ ./-]", "", s)
    r = s[4:] + s[:4]
    n = "".join(str(int(c, 36)) for c in r)
    return int(n) % 97 == 1


def b58check_ok(s):
    n = 0
    for c in s:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes(25, "big")
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:] and raw[0] in (0, 5)


def bech32_ok(s):
    s = s.lower()
    cs = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    data = [cs.index(c) for c in s[3:]]
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in [3, 3, 0, 2, 3] + data:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk == (1 if data[0] == 0 else 0x2BC830A3)


def check(t, v):
    digits = re.sub(r"\D", "", v)
    if t == "payment_card" or t == "imei":
        assert luhn_ok(digits), (t, v)
    if t == "iban":
        assert iban_ok(v), v
    if t == "btc_address":
        assert bech32_ok(v) if v.lower().startswith("bc1") else b58check_ok(v), v
    if t == "us_ssn":
        a, g, s = int(digits[:3]), int(digits[3:5]), int(digits[5:])
        assert a not in (0, 666) and a < 900 and g and s, v


DOCS = r"""
Please wire the refund to [[iban|DE89 3704 0044 0532 0130 00]] and confirm by e-mail to [[email|buchhaltung@firma-beispiel.de]].
Der Kunde (Tel. [[phone|+49 30 901820]]) hat die Karte [[payment_card|{luhn:453201511283036}]] gesperrt; Vorgang 2024-118-7731.
Le suspect utilisait l'adresse [[email|j.dupont+vente@exemple.fr]] et le numéro [[phone|+33 6 12 34 56 78]] pour les annonces.
Подозреваемый использовал номер [[phone|+7 916 555-01-23]] и почту [[email|ivan.sokolov@yandex.ru]], IP-адрес [[ip_address|185.220.101.7]].
Заявка № 4567-2231 от 12.03.2024: паспорт [[us_passport|567891234]], СНИЛС не указан.
嫌疑人使用的手机号为[[phone|13912345678]]，登录IP为[[ip_address|116.25.43.9]]。
请将资料发送至[[email|zhang.wei@example.cn]]，订单号 202403150001。
Subscriber record: name Mary Ellis, SSN [[us_ssn|219-44-6632]], DOB 1984-02-11, phone [[phone|(312) 555-0187]].
The SSN field contained 000-12-3456 which is not a valid number; neither is 666-45-1234 nor 912-45-6789.
Server logs show connections from [[ip_address|203.0.113.77]] and [[ip_address|2001:db8:4006:812::200e]] between 02:14:55 and 02:16:03 UTC.
The firmware version 10.2.1.4 was installed on 2024-05-02; see build 7.1.0.22 release notes.
Invalid address 300.12.4.1 and 192.168.1.256 were rejected by the parser.
Device IMEI [[imei|{luhn:35274710932417}]], MAC [[mac_address|3C:22:FB:91:0A:7E]], last seen at [[geo_coordinate|40.748817]], [[geo_coordinate|-73.985428]].
Meeting point roughly at 48.85, 2.35 (city centre), no exact location recorded.
Commit e83c5163316f89bfbde7d9ab23ca2e25604af290 fixed the parser; sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.
Ransom paid to [[btc_address|1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2]], change sent to [[btc_address|bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq]].
A second wallet 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 appears in the chat but its checksum is wrong.
Order reference 4000123412341235 is an internal number, not a card.
Invoice 2024-0098 total 1,249.50 EUR, paid 15.03.2024 at 14:22.
Amex on file: [[payment_card|{luhn:37144963539843}]]; backup Visa [[payment_card|{luhn:491633850608}]].
Mastercard [[payment_card|{luhn:540340123456789}]] expires 09/27, CVV not stored.
Karta Mir [[payment_card|{luhn:220070123456789}]] zablokirovana 3 marta.
Карта [[payment_card|{luhn:2202 2023 4567 890}]] привязана к счёту [[iban|RU0204452560040702810412345678901]].
Contact the duty officer at [[phone|+44 20 7946 0958]] or [[email|duty-officer@cert.example.org]].
Geolocation of the handset: lat [[geo_coordinate|55.755826]], lon [[geo_coordinate|37.617300]], accuracy 12 m.
Standort des Geräts: Breite [[geo_coordinate|52.520008]], Länge [[geo_coordinate|13.404954]].
Coordonnées GPS : [[geo_coordinate|43.296482]], [[geo_coordinate|5.369780]] relevées à 21h.
坐标 [[geo_coordinate|39.904211]], [[geo_coordinate|116.407395]]，误差约五米。
The average latency was 23.457 ms and the score 98.125 out of 100.
Pi is approximately 3.14159 and e is 2.71828.
Temperature 36.600 C, weight 72.450 kg, blood pressure 120/80.
Swiss account [[iban|CH93 0076 2011 6238 5295 7]] and Belgian [[iban|BE68539007547034]].
Bad IBAN DE89 3704 0044 0532 0130 01 was returned by the bank.
Spanish account [[iban|ES91 2100 0418 4502 0005 1332]], Italian [[iban|IT60X0542811101000000123456]].
Passport No. [[us_passport|A12345678]] issued 2019; the booking reference is ABC123456.
Reisepass Nr. [[us_passport|C03005988]] wurde vorgelegt.
Numéro de passeport : [[us_passport|488839667]].
Tracking number 1Z999AA10123456784 and ISBN 978-3-16-148410-0 are in the parcel notes.
UUID 123e4567-e89b-12d3-a456-426614174000 identifies the session.
The cluster runs Kubernetes v1.28.3 and Python 3.11.4 on 10 nodes.
Timestamps: 1700000000, 1700000000123, 2023-11-14T22:13:20Z.
Please call [[phone|+1 212 555 0143]] before 5pm.
For complaints call [[phone|1-800-555-0199]]... sorry, [[phone|800-555-0199]].
tel: [[phone|8 (495) 123-45-67]], факс [[phone|8 (495) 123-45-68]] не работает
Router at [[ip_address|10.0.12.1]] forwarded to [[ip_address|fe80::1ff:fe23:4567:890a]].
Loopback [[ip_address|127.0.0.1]] and [[ip_address|::1]] are local.
MAC addresses [[mac_address|00-1B-63-84-45-E6]] and [[mac_address|0019.e3d4.2f11]] were logged.
The time was 12:30:45 and the ratio 16:9.
SSN: [[us_ssn|123-45-6788]] (test record), alt 078-05-1120 (known invalid).
Social Security number [[us_ssn|536 22 1234]] on the W-2.
IMEI [[imei|{luhn:86543201234567}]] belongs to the second handset.
Dear customer, your order 45-6789-0123 has shipped.
Kontakt: [[email|m.mueller@beispiel-gmbh.de]], Telefon [[phone|+49 89 1234 5678]].
Адрес электронной почты: [[email|o.petrova@mail.ru]]; телефон: [[phone|+7 (812) 555-12-34]].
联系人邮箱 [[email|li.na@example.com.cn]] 电话 [[phone|+86 10 6552 9988]]
Price: $1234.5678 per unit? No, 1234.56.
Version 2.0.0.1 and v3.4.5.6 of the client.
The range 192.0.2.0/24 is documentation; host [[ip_address|192.0.2.15]] responded.
Coarse location: 55.7, 37.6 (region only).
Lat/Lon: [[geo_coordinate|-33.868820]] / [[geo_coordinate|151.209296]]
Departure from [[geo_coordinate|51.4700]], [[geo_coordinate|-0.4543]] at 10:05.
The transaction hash 4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b is on chain.
Send donations to [[btc_address|3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy]] (multisig).
Taproot address [[btc_address|bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0]] received 0.5 BTC.
Invalid bech32 bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr ignored.
Genesis block pays to [[btc_address|1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa]].
Card ending 1111, full number withheld.
Card: [[payment_card|{luhn:4111 1111 1111 111}]] (test Visa).
Karte [[payment_card|{luhn:6011-0009-9013-942}]] und Referenz 6011-0009-9013-9425 (ungültig).
Customer ID 5105105105105101 looks like a card but fails Luhn? Check: [[payment_card|5105105105105100]].
JCB [[payment_card|{luhn:353011133330000}]] used in Osaka.
UnionPay [[payment_card|{luhn:621700123456789012}]] 银联卡。
Building 4, room 12.345 — not a coordinate.
Record 7: email [[email|a_b-c.d@sub.example.co.uk]], ip [[ip_address|198.51.100.23]], mac [[mac_address|a4:5e:60:d1:2b:9c]].
Network [[ip_address|10.0.0.0]] to [[ip_address|10.255.255.255]] reserved; gateway [[ip_address|10.0.0.1]].
Reply-To: <[[email|noreply@notifications.example.com]]>
Mail addresses like user@localhost or @handle are not routable.
Dates 01.02.2024, 2024/02/01 and 1.2.2024 are not numbers of interest.
ISO 8601 2024-02-01T10:20:30+03:00, epoch 1706772030.
Der Anrufer nutzte die Nummer [[phone|+49 176 12345678]] und die IP [[ip_address|91.198.174.192]].
Le serveur [[ip_address|2a00:1450:4007:80e::200e]] a répondu en 12 ms.
Абонент: Смирнов А.В., паспорт [[us_passport|410123456]], адрес Москва.
WhatsApp: [[phone|+971 50 123 4567]]
Fax [[phone|+1 (202) 555-0125]]
Handy: [[phone|+43 664 1234567]]
Gerät IMEI: [[imei|{luhn:01326300123456}]], Seriennummer R58M123ABC.
IMEI-SV 3527471093241700 is sixteen digits and not an IMEI.
Coordinates in the EXIF data: [[geo_coordinate|37.774929]], [[geo_coordinate|-122.419418]].
Version strings such as 5.4.0.1024, 1.0.0.0 and 4.19.0.17 appear in kernel logs.
Hex dump: de ad be ef 00 11 22 33 44 55 66 77.
Git tag release-2024.03.15, image sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae.
Random digits 1234567890123 and 9876543210987654321 in a spreadsheet.
Call center: [[phone|+1 800 555 0175]]; IVR option 3.
Lat 12.34 Lon 56.78 (two decimals only).
Position [[geo_coordinate|-22.906847]], [[geo_coordinate|-43.172896]] (Rio).
In 2023 we handled 1250 requests, 45 in 2020 and 35 in 2021.
Account [[iban|GB82 WEST 1234 5698 7654 32]] belongs to the company.
Netherlands [[iban|NL91ABNA0417164300]], France [[iban|FR14 2004 1010 0505 0001 3M02 606]].
Austrian IBAN [[iban|AT611904300234573201]] and Polish [[iban|PL61109010140000071219812874]].
Transfer from RU00 0445 2560 0407 0281 0412 3456 789 failed (bad check digits).
The SSNs [[us_ssn|536-22-1234]] and [[us_ssn|536-22-1235]] appear twice: [[us_ssn|536-22-1236]].
ssn [[us_ssn|536221237]] in a plain list? [[us_ssn|536221239]]
Ticket #536221238 is unrelated to any person.
Telefonnummer: [[phone|030 12345678]]
Номер телефона: [[phone|8-916-123-45-67]]
Phone (office): [[phone|+81 3-1234-5678]]
Email me: [[email|first.last@example.travel]] or [[email|x@example.io]].
File names like report@2x.png or icon@3x.jpg are assets.
Check the CIDR 2001:db8::/32 and host [[ip_address|2001:db8::8a2e:370:7334]].
The time is 10:20 and the clock showed 23:59:59.
Passport numbers are 9 digits; example: none provided. Booking 123456789 confirmed.
Release notes: agent 2024.0115.1020.3012 replaces 2023.1231.0959.0001; kernel 5.15.0-91-generic, nginx/1.24.0, Chrome 120.0.6099.109, firmware 4.2.1.1077.
Timeline (UTC): 2025-04-12T03:11:09.123456Z first hit, epoch ms 1712891469123, compact 20250412031109, local 2025/04/12 03:11, dated 12/04/2025 and 04.12.2025.
Hashes: md5 d41d8cd98f00b204e9800998ecf8427e, sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709, sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, commit 3f2a9c1b.
Ticket 2025.04.12.0001, invoice 2025/0412/0311/0001, order 1234.5678.9012 shipped.
Seized notebook: card [[payment_card|4111.1111.1111.1111]] and [[payment_card|5500/0055/5555/5559]], SSN written [[us_ssn|536.22.1234]].
Чат: карта [[payment_card|４１１１１１１１１１１１１１１１]], ещё одна [[payment_card|5500​0055​5555​5559]], IBAN [[iban|DE89-3704-0044-0532-0130-00]].
""".strip().splitlines()

PLACEHOLDER = re.compile(r"\{luhn:([0-9 \-]+)\}")
LABEL = re.compile(r"\[\[(\w+)\|(.+?)\]\]", re.S)


def expand_luhn(m):
    raw = m.group(1)
    digits = re.sub(r"\D", "", raw)
    full = luhn(digits)
    # keep the hand-written grouping; the check digit joins the last group
    return raw + full[-1]


def build(line):
    line = PLACEHOLDER.sub(expand_luhn, line)
    text = b""
    spans = []
    pos = 0
    for m in LABEL.finditer(line):
        text += line[pos:m.start()].encode()
        t, v = m.group(1), m.group(2)
        check(t, v)
        start = len(text)
        text += v.encode()
        spans.append([start, len(text), t])
        pos = m.end()
    text += line[pos:].encode()
    return {"text": text.decode(), "spans": spans}


if __name__ == "__main__":
    for line in DOCS:
        if line.strip():
            print(json.dumps(build(line), ensure_ascii=False))
