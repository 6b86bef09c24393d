"""Deterministic demo contacts for the LiveDesk sandbox."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random

# Seeded timestamps are anchored to a fixed instant so a seed is the same on every run.
SEED_EPOCH = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
DAY = 86_400

INBOXES = (
    (1, "Website chat", "Channel::WebWidget"),
    (2, "LINE OA", "Channel::Api"),
    (3, "Email support", "Channel::Email"),
)
WEB_INBOX_ID, LINE_INBOX_ID, EMAIL_INBOX_ID = 1, 2, 3

LABELS = (
    "vip",
    "lead",
    "customer",
    "wholesale",
    "follow-up",
    "complaint",
    "newsletter",
    "bangkok",
    "returning",
)

THAI_FIRST_NAMES = (
    ("สมชาย", "Somchai"),
    ("สมศรี", "Somsri"),
    ("สุดารัตน์", "Sudarat"),
    ("ประเสริฐ", "Prasert"),
    ("วิชัย", "Wichai"),
    ("อรุณี", "Arunee"),
    ("กิตติ", "Kitti"),
    ("ณัฐพล", "Nattapon"),
    ("พิมพ์ชนก", "Pimchanok"),
    ("ธนพร", "Thanaporn"),
    ("ศิริพร", "Siriporn"),
    ("อภิชาติ", "Apichat"),
    ("จิราพร", "Jiraporn"),
    ("ชยพล", "Chayapol"),
    ("วรรณา", "Wanna"),
    ("ปิยะนุช", "Piyanuch"),
    ("ธีรวัฒน์", "Theerawat"),
    ("มาลี", "Malee"),
    ("อนุชา", "Anucha"),
    ("กมลวรรณ", "Kamonwan"),
    ("สุรเชษฐ์", "Surachet"),
    ("นภัสสร", "Napassorn"),
    ("ภานุวัฒน์", "Panuwat"),
    ("รัตนา", "Rattana"),
    ("เกศินี", "Kesinee"),
    ("ชัยวัฒน์", "Chaiwat"),
    ("ปวีณา", "Paweena"),
    ("ศุภชัย", "Supachai"),
    ("อัญชลี", "Anchalee"),
    ("ธนากร", "Thanakorn"),
)
THAI_LAST_NAMES = (
    ("ศรีสุข", "Srisuk"),
    ("วงศ์สวัสดิ์", "Wongsawat"),
    ("แก้วมณี", "Kaewmanee"),
    ("สุขเจริญ", "Sukcharoen"),
    ("ทองดี", "Thongdee"),
    ("บุญมา", "Boonma"),
    ("จันทร์เพ็ญ", "Chanpen"),
    ("รัตนพันธ์", "Rattanapan"),
    ("พรหมมา", "Promma"),
    ("ศรีวงศ์", "Sriwong"),
    ("ชัยมงคล", "Chaimongkol"),
    ("อินทร์แก้ว", "Inkaew"),
    ("สายทอง", "Saithong"),
    ("เพชรรัตน์", "Petcharat"),
    ("มหาวงศ์", "Mahawong"),
    ("ธนสาร", "Thanasan"),
    ("นาคสวัสดิ์", "Naksawat"),
    ("กาญจนวงศ์", "Kanchanawong"),
    ("ปัญญาดี", "Panyadee"),
    ("เรืองศรี", "Ruangsri"),
)
THAI_NICKNAMES = (
    "Nok",
    "Ploy",
    "Bee",
    "Mint",
    "Aom",
    "Beam",
    "Fah",
    "Golf",
    "Noon",
    "Tong",
    "Pim",
    "Boss",
)
ENGLISH_FIRST_NAMES = (
    "Oliver",
    "Amelia",
    "James",
    "Olivia",
    "Harry",
    "Isla",
    "Jack",
    "Emily",
    "George",
    "Sophie",
    "Noah",
    "Grace",
    "Liam",
    "Charlotte",
    "Ethan",
    "Ava",
    "Daniel",
    "Chloe",
    "Michael",
    "Hannah",
    "Samuel",
    "Lucy",
    "Thomas",
    "Ella",
)
ENGLISH_LAST_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Miller",
    "Anderson",
    "Moore",
    "Martin",
)

# (city, country, country_code, phone country)
THAI_CITIES = (
    ("Bangkok", "Thailand", "TH"),
    ("กรุงเทพมหานคร", "ประเทศไทย", "TH"),
    ("Chiang Mai", "Thailand", "TH"),
    ("เชียงใหม่", "ประเทศไทย", "TH"),
    ("Phuket", "Thailand", "TH"),
    ("Khon Kaen", "Thailand", "TH"),
    ("Hat Yai", "Thailand", "TH"),
    ("Nonthaburi", "Thailand", "TH"),
    ("Pattaya", "Thailand", "TH"),
    ("ขอนแก่น", "ประเทศไทย", "TH"),
)
FOREIGN_CITIES = (
    ("London", "United Kingdom", "GB"),
    ("Manchester", "United Kingdom", "GB"),
    ("Edinburgh", "United Kingdom", "GB"),
    ("New York", "United States", "US"),
    ("San Francisco", "United States", "US"),
    ("Chicago", "United States", "US"),
    ("Toronto", "Canada", "CA"),
    ("Singapore", "Singapore", "SG"),
    ("Kuala Lumpur", "Malaysia", "MY"),
    ("Tokyo", "Japan", "JP"),
    ("Sydney", "Australia", "AU"),
    ("Berlin", "Germany", "DE"),
)
THAI_COMPANIES = (
    "บริษัท สยามฟู้ดส์ จำกัด",
    "Chao Phraya Logistics Co., Ltd.",
    "Lanna Coffee Roasters",
    "บริษัท ทองดี เทรดดิ้ง จำกัด",
    "Andaman Dive Resort",
    "Krungthep Digital Agency",
    "ร้านมาลีผ้าไหม",
    "Isan Organic Farm",
    "Sukhumvit Dental Clinic",
    "บริษัท รุ่งเรืองการช่าง จำกัด",
)
FOREIGN_COMPANIES = (
    "Northwind Traders Ltd",
    "Blue Harbour Consulting",
    "Acme Widgets Inc.",
    "Thames Valley Software",
    "Maple Leaf Imports",
    "Redwood Analytics",
    "Orchard Road Holdings",
    "Harbourside Travel",
)
DESCRIPTIONS = (
    "",
    "",
    "",
    "ลูกค้าประจำ สั่งซื้อทุกเดือน",
    "สนใจแพ็กเกจองค์กร ขอใบเสนอราคา",
    "ติดต่อผ่าน LINE สะดวกที่สุด",
    "Prefers email over chat",
    "Reseller in the north",
    "Asked about bulk pricing",
    "Met at the Bangkok trade fair",
    "Follow up after the trial ends",
    "Complained about late delivery, resolved",
)
EMAIL_DOMAINS = (
    "gmail.com",
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "yahoo.co.th",
    "icloud.com",
    "example.co.th",
    "example.com",
)
VIP_LEVELS = ("bronze", "silver", "gold", "platinum")
PLANS = ("free", "starter", "pro", "enterprise")
PREFERRED_LANGUAGES = ("th", "en")


@dataclass(frozen=True)
class SeedContact:
    """One generated contact, ready for SandboxStore to insert."""

    name: str
    email: str | None
    phone_number: str | None
    identifier: str | None
    thumbnail: str
    availability_status: str
    blocked: bool
    additional_attributes: dict
    custom_attributes: dict
    created_at: int
    last_activity_at: int | None
    labels: tuple[str, ...]
    inboxes: tuple[tuple[int, str], ...]


class ContactGenerator:
    """Makes realistic, unique demo contacts from one random.Random."""

    def __init__(self, rng: Random, *, taken_emails=(), taken_phones=(), taken_identifiers=()):
        self.rng = rng
        self.emails = set(taken_emails)
        self.phones = set(taken_phones)
        self.identifiers = set(taken_identifiers)
        self.serial = 0

    def make(self) -> SeedContact:
        rng = self.rng
        self.serial += 1
        origin = rng.random()
        if origin < 0.6:
            (first_th, first_en), (last_th, last_en) = (
                rng.choice(THAI_FIRST_NAMES),
                rng.choice(THAI_LAST_NAMES),
            )
            style = rng.random()
            if style < 0.45:
                name = f"{first_th} {last_th}"
            elif style < 0.9:
                name = f"{first_en} {last_en}"
            else:
                name = rng.choice(THAI_NICKNAMES)
            city, country, country_code = (
                rng.choice(THAI_CITIES) if rng.random() < 0.9 else rng.choice(FOREIGN_CITIES)
            )
            company = rng.choice(THAI_COMPANIES)
        else:
            first_en, last_en = rng.choice(ENGLISH_FIRST_NAMES), rng.choice(ENGLISH_LAST_NAMES)
            name = f"{first_en} {last_en}"
            city, country, country_code = (
                rng.choice(FOREIGN_CITIES) if rng.random() < 0.85 else rng.choice(THAI_CITIES)
            )
            company = rng.choice(FOREIGN_COMPANIES)
        if rng.random() < 0.35:
            company = ""
        if rng.random() < 0.1:
            city, country, country_code = "", "", ""

        email = self._email(first_en, last_en) if rng.random() < 0.88 else None
        phone = self._phone(country_code) if rng.random() < 0.85 else None
        identifier = self._identifier() if rng.random() < 0.7 else None

        created_at = SEED_EPOCH - rng.randint(DAY, 900 * DAY)
        last_activity_at = (
            None
            if rng.random() < 0.05
            else rng.randint(created_at, SEED_EPOCH - rng.randint(0, DAY))
        )
        handle = f"{first_en.lower()}_{last_en.lower()[:4]}{rng.randint(1, 99)}"
        inboxes = self._inboxes(email)
        return SeedContact(
            name=name,
            email=email,
            phone_number=phone,
            identifier=identifier,
            thumbnail=self._thumbnail(email),
            availability_status=rng.choices(("offline", "online", "busy"), (85, 10, 5))[0],
            blocked=rng.random() < 0.02,
            additional_attributes={
                "description": rng.choice(DESCRIPTIONS),
                "company_name": company,
                "city": city,
                "country": country,
                "country_code": country_code,
                "telegram": f"@{handle}" if rng.random() < 0.25 else "",
                "social_profiles": {
                    network: (handle if rng.random() < chance else "")
                    for network, chance in (
                        ("facebook", 0.4),
                        ("github", 0.08),
                        ("instagram", 0.35),
                        ("linkedin", 0.2),
                        ("twitter", 0.15),
                    )
                },
            },
            custom_attributes=self._custom_attributes(created_at),
            created_at=created_at,
            last_activity_at=last_activity_at,
            labels=tuple(
                sorted(rng.sample(LABELS, rng.choices((0, 1, 2, 3), (30, 40, 20, 10))[0]))
            ),
            inboxes=inboxes,
        )

    def _email(self, first: str, last: str) -> str:
        rng = self.rng
        local = rng.choice(
            (f"{first}.{last}", f"{first}{last[0]}", f"{first[0]}{last}", f"{first}_{last}")
        ).lower()
        domain = rng.choice(EMAIL_DOMAINS)
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{rng.randint(1, 9999)}@{domain}"
        self.emails.add(email)
        return email

    def _phone(self, country_code: str) -> str:
        rng = self.rng
        while True:
            if country_code == "GB":
                phone = f"+447{rng.randint(100_000_000, 999_999_999)}"
            elif country_code in ("US", "CA"):
                phone = f"+1{rng.randint(201, 989)}{rng.randint(2_000_000, 9_999_999)}"
            elif country_code == "SG":
                phone = f"+65{rng.choice('89')}{rng.randint(1_000_000, 9_999_999)}"
            elif country_code == "JP":
                phone = f"+81{rng.choice(('80', '90'))}{rng.randint(10_000_000, 99_999_999)}"
            elif country_code == "AU":
                phone = f"+614{rng.randint(10_000_000, 99_999_999)}"
            else:
                phone = f"+66{rng.choice('689')}{rng.randint(10_000_000, 99_999_999)}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _identifier(self) -> str:
        rng = self.rng
        while True:
            if rng.random() < 0.5:
                identifier = f"U{rng.getrandbits(128):032x}"
            else:
                identifier = f"CRM-{rng.randint(100_000, 9_999_999)}"
            if identifier not in self.identifiers:
                self.identifiers.add(identifier)
                return identifier

    def _thumbnail(self, email: str | None) -> str:
        if email is None or self.rng.random() > 0.15:
            return ""
        digest = hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()
        return f"https://www.gravatar.com/avatar/{digest}?d=identicon"

    def _inboxes(self, email: str | None) -> tuple[tuple[int, str], ...]:
        rng = self.rng
        choices = [WEB_INBOX_ID, LINE_INBOX_ID] + ([EMAIL_INBOX_ID] if email else [])
        picked = sorted(rng.sample(choices, 2 if rng.random() < 0.3 else 1))
        return tuple((inbox_id, self._source_id(inbox_id, email)) for inbox_id in picked)

    def _source_id(self, inbox_id: int, email: str | None) -> str:
        if inbox_id == EMAIL_INBOX_ID and email:
            return email
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _custom_attributes(self, created_at: int) -> dict:
        rng = self.rng
        if rng.random() < 0.15:
            return {}
        attributes: dict = {
            "plan": rng.choice(PLANS),
            "lifetime_value": round(rng.uniform(0, 250_000), 2),
            "signed_up": datetime.fromtimestamp(created_at, UTC).strftime("%Y-%m-%d"),
            "newsletter": rng.random() < 0.4,
        }
        if rng.random() < 0.5:
            attributes["vip_level"] = rng.choice(VIP_LEVELS)
        if rng.random() < 0.3:
            attributes["preferred_language"] = rng.choice(PREFERRED_LANGUAGES)
        return attributes
