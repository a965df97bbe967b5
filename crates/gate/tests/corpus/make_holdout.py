#!/usr/bin/env python3
"""Builds holdout.jsonl: a second hand-written corpus, written after the
recognizers were tuned on dev.jsonl and evaluated as written (the scanner
was not changed in response to it). Two labelling mistakes were corrected
after the first scoring, both errors of the corpus, not of the scanner: a
valid Bitcoin address labelled as a negative, and an "Amex" number written
with 16 digits. First score: micro-F1 0.959 (P 0.932, R 0.988). Longer, multi-line documents in the
styles the gate sees: incident reports, e-mails, chat logs, request
answers, in English, Russian, German, French, Spanish and Chinese.

Same markup and validation as make_dev.py. Run:
python3 make_holdout.py > holdout.jsonl
"""
import json
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from make_dev import build  # noqa: E402

DOCS = [
    """INCIDENT REPORT IR-2025-0412
Reporter: Dana Whitfield <[[email|d.whitfield@soc.example.net]]>, desk [[phone|+1 (617) 555-0148]]
Summary: credential stuffing against the customer portal from [[ip_address|45.133.1.20]] and [[ip_address|45.133.1.21]].
Affected account holder SSN [[us_ssn|457-21-9903]] (redaction pending). Portal build 3.14.2.9, WAF rule 942100.
Timeline: 2025-04-12 03:11:09Z first hit; 2025-04-12 03:44:51Z block deployed.""",
    """From: Sergei K. <[[email|s.kuznetsov@corp-mail.ru]]>
To: [[email|abuse@hosting.example.com]]
Subject: Re: запрос № 77/2025

Добрый день! Сервер [[ip_address|94.142.138.50]] продолжает рассылку. Контактный телефон: [[phone|+7 (383) 555-44-21]].
Версия ПО 2.6.0.11, хеш файла d41d8cd98f00b204e9800998ecf8427e.""",
    """Chat export 14.02.2025
[09:12] alice: send it to [[btc_address|bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh]] pls
[09:13] bob: old wallet [[btc_address|1BoatSLRHtKNngkdXEeobR76b53LETtpyT]] is dead
[09:14] alice: or [[btc_address|1BoatSLRHtKNngkdXEeobR76b53LETtpyT]] fine whatever
[09:15] bob: my number changed, new one [[phone|+34 612 345 678]]""",
    """Antwort auf Ersuchen 2025/113 (Staatsanwaltschaft Köln)
Bestandsdaten: Inhaber Thomas Brandt, geb. 14.07.1979, Anschrift Hauptstr. 12, 50667 Köln.
Rufnummer [[phone|+49 221 9876543]], E-Mail [[email|t.brandt@web.example.de]], IBAN [[iban|DE44 5001 0517 5407 3249 31]].
Verkehrsdaten: Verbindung von [[ip_address|78.46.170.3]] am 03.02.2025 um 22:41:17 Uhr.""",
    """Réponse à la demande d'entraide n° 2025-FR-0291
Titulaire : Claire Moreau, téléphone [[phone|+33 1 42 68 53 00]], courriel [[email|claire.moreau@orange-exemple.fr]].
Compte bancaire : [[iban|FR76 3000 6000 0112 3456 7890 189]].
Dernière localisation de l'appareil : latitude [[geo_coordinate|48.873792]], longitude [[geo_coordinate|2.295028]].""",
    """Respuesta a la solicitud 45/2025
El titular usa el móvil [[phone|+34 699 123 456]] y el correo [[email|jgarcia@correo-ejemplo.es]].
Cuenta: [[iban|ES79 2100 0813 6101 2345 6789]]. Dirección IP de acceso: [[ip_address|88.26.241.248]].
Versión de la aplicación 4.2.0.7; pedido 2025-000871.""",
    """协查回复（编号 2025-031）
用户手机：[[phone|13600001234]]
注册邮箱：[[email|wang.fang@example.com.cn]]
登录地址：[[ip_address|183.60.92.18]]，时间 2025-03-01 08:15:42
设备位置：纬度 [[geo_coordinate|31.230416]]，经度 [[geo_coordinate|121.473701]]""",
    """Device inventory (excerpt)
- laptop-17: MAC [[mac_address|f0:18:98:4c:a2:11]], IP [[ip_address|10.20.30.40]], OS 10.0.22631.3155
- phone-03: IMEI [[imei|{luhn:35391110123456}]], owner ext. 4471
- printer: MAC [[mac_address|00-80-77-3F-2A-9C]], firmware 2.81.0.0.1""",
    """Payment dispute #88213
Cardholder: J. Okafor, card [[payment_card|{luhn:4556 7375 8689 997}]] (Visa), exp 11/26.
Merchant reference 5500005555555551 (internal ledger id, not a card).
Refund to [[payment_card|{luhn:542523343010990}]] approved on 2025-01-30.""",
    """Geo log for handset 7 (precise):
2025-02-11T10:01:00Z [[geo_coordinate|34.052235]],[[geo_coordinate|-118.243683]]
2025-02-11T10:06:00Z [[geo_coordinate|34.052901]],[[geo_coordinate|-118.244012]]
City-level only: 34.05, -118.24""",
    """Subscriber lookup result
Name: Robert Lin | SSN: [[us_ssn|301-58-7712]] | Passport: [[us_passport|912345670]]
Phone: [[phone|212-555-0199]] | Email: [[email|rlin@example.org]]
Account opened 2019-06-14, plan id 8841-2290-11.""",
    """Протокол осмотра: изъят телефон, IMEI [[imei|{luhn:86891203123456}]], SIM ICCID 8970101234567890123.
Владелец: Кравцов Д.И., паспорт серия 45 10 номер 123456, тел. [[phone|8 (916) 234-56-78]].
Координаты места изъятия: [[geo_coordinate|55.733842]], [[geo_coordinate|37.588144]].""",
    """Threat intel note: C2 at [[ip_address|2a01:4f8:c17:b8f::2]] (Hetzner) and [[ip_address|5.188.86.172]].
Sample SHA-1 a94a8fe5ccb19ba61571c7d782b5a6e6e0e8c6b3, packer version 3.96.0.0.
Beacon interval 60.000 s, jitter 0.250.""",
    """Wire instructions (do NOT forward):
Beneficiary: Nordlicht GmbH
IBAN: [[iban|AT48 3200 0000 1234 5864]]
Alt IBAN with typo: AT48 3200 0000 1234 5865
Reference: INV-2025-0091, amount 12,480.00 EUR""",
    """Ticket 55120 — user reports fraud.
"Someone used my card [[payment_card|{luhn:601100099013942}]] at 03:14" — callback on [[phone|+1 646 555 0112]].
Internal case key 6011-4432-0098-1123 refers to the CRM entry.""",
    """UK subscriber: Priya Shah, [[phone|+44 7700 900123]], [[email|priya.shah@example.co.uk]],
sort code 20-00-00, account [[iban|GB29 NWBK 6016 1331 9268 19]].
Seen from [[ip_address|81.2.69.142]] on 2025-03-09.""",
    """Swiss bank reply: Konto [[iban|CH56 0483 5012 3456 7800 9]], Inhaber M. Keller,
Tel. [[phone|+41 44 668 18 00]]. Kartennummer [[payment_card|{luhn:37598765432100}]] (Amex) gesperrt.""",
    """Log lines:
Mar 10 04:22:19 gw sshd[2211]: Failed password for root from [[ip_address|218.92.0.107]] port 52144 ssh2
Mar 10 04:22:21 gw sshd[2211]: Failed password for root from [[ip_address|218.92.0.107]] port 52150 ssh2
Mar 10 04:23:02 gw kernel: [1234.5678] eth0: link up, version 5.15.0.91""",
    """Crypto tracing summary: funds moved from [[btc_address|3FZbgi29cpjq2GjdwV8eyHuJJnkLtktZc5]] through a mixer
to [[btc_address|bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c]]. Address 3FZbgi29cpjq2GjdwV8eyHuJJnkLtktZc6 (typo in
the original report) does not exist.""",
    """Passenger record: passport no. [[us_passport|B98765432]], seat 14C, booking code X7PQ2M,
frequent flyer 889912345, mobile [[phone|+1 305 555 0176]].""",
    """Nota: el número 600 123 456 aparece en un folleto publicitario sin contexto.
Pedido 2025-11-03, total 59.990 pesos, versión 1.2.3.""",
    """Requête du CERT : merci de vérifier l'adresse [[ip_address|192.168.10.25]] et le poste [[mac_address|D4:3D:7E:12:AB:09]].
Position GPS du véhicule : [[geo_coordinate|45.764043]], [[geo_coordinate|4.835659]] (Lyon).""",
    """Medical billing export (text):
Patient Ellen Park, SSN [[us_ssn|512-70-3381]], card [[payment_card|{luhn:4024 0071 5336 774}]].
ICD-10 E11.9, visit 2025-02-03, amount 145.00.""",
    """Zahlungsdaten: Kreditkarte [[payment_card|{luhn:5105 1051 0510 510}]], gültig bis 08/27.
Kundennummer 5105 1051 0510 5101 ist keine Kartennummer.""",
    """Security note: rotate keys; old fingerprint SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8.
Contact [[email|security@example.org]] or call [[phone|+1 415 555 0132]].""",
    """Call detail: A-number [[phone|+7 912 345-67-89]], B-number [[phone|+7 495 987-65-43]], duration 00:03:12,
cell id 250-01-7702-12345, handset IMEI [[imei|{luhn:35875906123456}]].""",
    """Environment: Ubuntu 22.04.4, Node 18.19.1, nginx 1.24.0, OpenSSL 3.0.13.
Build agents 10.1.2.3? no — those are versions: 10.1.2 and 3.""",
    """Geofence breach: device 22 at lat [[geo_coordinate|-23.550520]] lon [[geo_coordinate|-46.633308]], speed 42.125 km/h.""",
    """Bank statement line: 2025-01-15 CARD 4929 **** **** 1234 GROCERY 84.20
Full PAN from the acquirer: [[payment_card|{luhn:492937485761023}]].""",
    """Dear team, please add [[email|ops+alerts@monitoring.example.io]] to the list; my cell is [[phone|(415) 555-0123]].
Thanks, J.""",
]

for d in DOCS:
    print(json.dumps(build(d), ensure_ascii=False))
