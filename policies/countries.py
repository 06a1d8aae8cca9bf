"""Built-in country, continent and US state tables for geolocation and geoproximity routing.

Geolocation routing matches a client's country and continent, and geoproximity routing
estimates distances. Both must work with no downloaded GeoIP or geography database, so the
little geography they need ships here as plain data.

The data comes from public knowledge. Continent codes are Route 53's seven, and each country
is placed on the continent MaxMind GeoIP uses (which is what Route 53 uses): Russia in Europe,
Turkey, Cyprus and the Caucasus in Asia, Egypt in Africa, Panama and the Caribbean in North
America, the Pacific islands in Oceania, the sub-Antarctic islands in Antarctica.

Centroids are approximate (about one decimal of a degree), good enough for "which endpoint is
nearer" and no more. For a country spread over an ocean (Kiribati, the US Minor Outlying
Islands, Pitcairn, ...) the point is its main island rather than a spot in open water, and
for a country with distant territories (France, Norway, the Netherlands, the US) it is the
main territory: the overseas parts that have their own ISO code have their own entry.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTINENTS: dict[str, str] = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}


@dataclass(frozen=True, slots=True)
class Country:
    """One ISO 3166-1 country: its alpha-2 code, continent code and approximate centroid."""

    code: str
    continent: str
    latitude: float
    longitude: float


# (ISO 3166-1 alpha-2, continent, latitude, longitude), in code order.
_COUNTRY_ROWS: tuple[tuple[str, str, float, float], ...] = (
    ("AD", "EU", 42.5, 1.6),  # Andorra
    ("AE", "AS", 23.4, 53.8),  # United Arab Emirates
    ("AF", "AS", 33.9, 67.7),  # Afghanistan
    ("AG", "NA", 17.1, -61.8),  # Antigua and Barbuda
    ("AI", "NA", 18.2, -63.1),  # Anguilla
    ("AL", "EU", 41.2, 20.2),  # Albania
    ("AM", "AS", 40.1, 45.0),  # Armenia
    ("AO", "AF", -11.2, 17.9),  # Angola
    ("AQ", "AN", -75.3, -0.1),  # Antarctica
    ("AR", "SA", -38.4, -63.6),  # Argentina
    ("AS", "OC", -14.3, -170.7),  # American Samoa
    ("AT", "EU", 47.5, 14.6),  # Austria
    ("AU", "OC", -25.3, 133.8),  # Australia
    ("AW", "NA", 12.5, -70.0),  # Aruba
    ("AX", "EU", 60.2, 20.0),  # Åland Islands
    ("AZ", "AS", 40.1, 47.6),  # Azerbaijan
    ("BA", "EU", 43.9, 17.7),  # Bosnia and Herzegovina
    ("BB", "NA", 13.2, -59.5),  # Barbados
    ("BD", "AS", 23.7, 90.4),  # Bangladesh
    ("BE", "EU", 50.5, 4.5),  # Belgium
    ("BF", "AF", 12.2, -1.6),  # Burkina Faso
    ("BG", "EU", 42.7, 25.5),  # Bulgaria
    ("BH", "AS", 26.0, 50.6),  # Bahrain
    ("BI", "AF", -3.4, 29.9),  # Burundi
    ("BJ", "AF", 9.3, 2.3),  # Benin
    ("BL", "NA", 17.9, -62.8),  # Saint Barthélemy
    ("BM", "NA", 32.3, -64.8),  # Bermuda
    ("BN", "AS", 4.5, 114.7),  # Brunei
    ("BO", "SA", -16.3, -63.6),  # Bolivia
    ("BQ", "NA", 12.2, -68.3),  # Bonaire, Sint Eustatius and Saba (Bonaire)
    ("BR", "SA", -14.2, -51.9),  # Brazil
    ("BS", "NA", 25.0, -77.4),  # Bahamas
    ("BT", "AS", 27.5, 90.4),  # Bhutan
    ("BV", "AN", -54.4, 3.4),  # Bouvet Island
    ("BW", "AF", -22.3, 24.7),  # Botswana
    ("BY", "EU", 53.7, 28.0),  # Belarus
    ("BZ", "NA", 17.2, -88.5),  # Belize
    ("CA", "NA", 56.1, -106.3),  # Canada
    ("CC", "AS", -12.2, 96.9),  # Cocos (Keeling) Islands
    ("CD", "AF", -4.0, 21.8),  # Congo, Democratic Republic of the
    ("CF", "AF", 6.6, 20.9),  # Central African Republic
    ("CG", "AF", -0.2, 15.8),  # Congo
    ("CH", "EU", 46.8, 8.2),  # Switzerland
    ("CI", "AF", 7.5, -5.5),  # Côte d'Ivoire
    ("CK", "OC", -21.2, -159.8),  # Cook Islands (Rarotonga)
    ("CL", "SA", -35.7, -71.5),  # Chile
    ("CM", "AF", 7.4, 12.4),  # Cameroon
    ("CN", "AS", 35.9, 104.2),  # China
    ("CO", "SA", 4.6, -74.3),  # Colombia
    ("CR", "NA", 9.7, -83.8),  # Costa Rica
    ("CU", "NA", 21.5, -77.8),  # Cuba
    ("CV", "AF", 16.0, -24.0),  # Cabo Verde
    ("CW", "NA", 12.2, -69.0),  # Curaçao
    ("CX", "AS", -10.4, 105.7),  # Christmas Island
    ("CY", "AS", 35.1, 33.4),  # Cyprus
    ("CZ", "EU", 49.8, 15.5),  # Czechia
    ("DE", "EU", 51.2, 10.4),  # Germany
    ("DJ", "AF", 11.8, 42.6),  # Djibouti
    ("DK", "EU", 56.3, 9.5),  # Denmark
    ("DM", "NA", 15.4, -61.4),  # Dominica
    ("DO", "NA", 18.7, -70.2),  # Dominican Republic
    ("DZ", "AF", 28.0, 1.7),  # Algeria
    ("EC", "SA", -1.8, -78.2),  # Ecuador
    ("EE", "EU", 58.6, 25.0),  # Estonia
    ("EG", "AF", 26.8, 30.8),  # Egypt
    ("EH", "AF", 24.2, -12.9),  # Western Sahara
    ("ER", "AF", 15.2, 39.8),  # Eritrea
    ("ES", "EU", 40.5, -3.7),  # Spain
    ("ET", "AF", 9.1, 40.5),  # Ethiopia
    ("FI", "EU", 61.9, 25.7),  # Finland
    ("FJ", "OC", -17.7, 178.1),  # Fiji (Viti Levu)
    ("FK", "SA", -51.8, -59.5),  # Falkland Islands
    ("FM", "OC", 6.9, 158.2),  # Micronesia (Pohnpei)
    ("FO", "EU", 61.9, -6.9),  # Faroe Islands
    ("FR", "EU", 46.2, 2.2),  # France (metropolitan)
    ("GA", "AF", -0.8, 11.6),  # Gabon
    ("GB", "EU", 54.0, -2.5),  # United Kingdom
    ("GD", "NA", 12.1, -61.7),  # Grenada
    ("GE", "AS", 42.3, 43.4),  # Georgia
    ("GF", "SA", 3.9, -53.1),  # French Guiana
    ("GG", "EU", 49.5, -2.6),  # Guernsey
    ("GH", "AF", 7.9, -1.0),  # Ghana
    ("GI", "EU", 36.1, -5.4),  # Gibraltar
    ("GL", "NA", 71.7, -42.6),  # Greenland
    ("GM", "AF", 13.4, -15.3),  # Gambia
    ("GN", "AF", 9.9, -9.7),  # Guinea
    ("GP", "NA", 16.2, -61.6),  # Guadeloupe
    ("GQ", "AF", 1.7, 10.3),  # Equatorial Guinea (Río Muni)
    ("GR", "EU", 39.1, 21.8),  # Greece
    ("GS", "AN", -54.4, -36.6),  # South Georgia and the South Sandwich Islands
    ("GT", "NA", 15.8, -90.2),  # Guatemala
    ("GU", "OC", 13.4, 144.8),  # Guam
    ("GW", "AF", 11.8, -15.2),  # Guinea-Bissau
    ("GY", "SA", 4.9, -58.9),  # Guyana
    ("HK", "AS", 22.4, 114.1),  # Hong Kong
    ("HM", "AN", -53.1, 73.5),  # Heard Island and McDonald Islands
    ("HN", "NA", 15.2, -86.2),  # Honduras
    ("HR", "EU", 45.1, 15.2),  # Croatia
    ("HT", "NA", 19.0, -72.3),  # Haiti
    ("HU", "EU", 47.2, 19.5),  # Hungary
    ("ID", "AS", -0.8, 113.9),  # Indonesia
    ("IE", "EU", 53.4, -8.2),  # Ireland
    ("IL", "AS", 31.0, 34.9),  # Israel
    ("IM", "EU", 54.2, -4.5),  # Isle of Man
    ("IN", "AS", 22.4, 79.1),  # India
    ("IO", "AS", -7.3, 72.4),  # British Indian Ocean Territory (Diego Garcia)
    ("IQ", "AS", 33.2, 43.7),  # Iraq
    ("IR", "AS", 32.4, 53.7),  # Iran
    ("IS", "EU", 65.0, -19.0),  # Iceland
    ("IT", "EU", 41.9, 12.6),  # Italy
    ("JE", "EU", 49.2, -2.1),  # Jersey
    ("JM", "NA", 18.1, -77.3),  # Jamaica
    ("JO", "AS", 30.6, 36.2),  # Jordan
    ("JP", "AS", 36.2, 138.3),  # Japan
    ("KE", "AF", 0.0, 37.9),  # Kenya
    ("KG", "AS", 41.2, 74.8),  # Kyrgyzstan
    ("KH", "AS", 12.6, 105.0),  # Cambodia
    ("KI", "OC", 1.4, 173.0),  # Kiribati (Tarawa)
    ("KM", "AF", -11.9, 43.9),  # Comoros
    ("KN", "NA", 17.3, -62.7),  # Saint Kitts and Nevis
    ("KP", "AS", 40.3, 127.5),  # Korea, Democratic People's Republic of
    ("KR", "AS", 35.9, 127.8),  # Korea, Republic of
    ("KW", "AS", 29.3, 47.5),  # Kuwait
    ("KY", "NA", 19.3, -81.3),  # Cayman Islands
    ("KZ", "AS", 48.0, 66.9),  # Kazakhstan
    ("LA", "AS", 19.9, 102.5),  # Laos
    ("LB", "AS", 33.9, 35.9),  # Lebanon
    ("LC", "NA", 13.9, -61.0),  # Saint Lucia
    ("LI", "EU", 47.2, 9.6),  # Liechtenstein
    ("LK", "AS", 7.9, 80.8),  # Sri Lanka
    ("LR", "AF", 6.4, -9.4),  # Liberia
    ("LS", "AF", -29.6, 28.2),  # Lesotho
    ("LT", "EU", 55.2, 23.9),  # Lithuania
    ("LU", "EU", 49.8, 6.1),  # Luxembourg
    ("LV", "EU", 56.9, 24.6),  # Latvia
    ("LY", "AF", 26.3, 17.2),  # Libya
    ("MA", "AF", 31.8, -7.1),  # Morocco
    ("MC", "EU", 43.7, 7.4),  # Monaco
    ("MD", "EU", 47.4, 28.4),  # Moldova
    ("ME", "EU", 42.7, 19.4),  # Montenegro
    ("MF", "NA", 18.1, -63.1),  # Saint Martin (French part)
    ("MG", "AF", -18.8, 46.9),  # Madagascar
    ("MH", "OC", 7.1, 171.2),  # Marshall Islands (Majuro)
    ("MK", "EU", 41.6, 21.7),  # North Macedonia
    ("ML", "AF", 17.6, -4.0),  # Mali
    ("MM", "AS", 21.9, 96.0),  # Myanmar
    ("MN", "AS", 46.9, 103.8),  # Mongolia
    ("MO", "AS", 22.2, 113.5),  # Macao
    ("MP", "OC", 15.2, 145.7),  # Northern Mariana Islands (Saipan)
    ("MQ", "NA", 14.6, -61.0),  # Martinique
    ("MR", "AF", 21.0, -10.9),  # Mauritania
    ("MS", "NA", 16.7, -62.2),  # Montserrat
    ("MT", "EU", 35.9, 14.4),  # Malta
    ("MU", "AF", -20.3, 57.6),  # Mauritius
    ("MV", "AS", 3.2, 73.2),  # Maldives
    ("MW", "AF", -13.3, 34.3),  # Malawi
    ("MX", "NA", 23.6, -102.6),  # Mexico
    ("MY", "AS", 4.2, 102.0),  # Malaysia (peninsular)
    ("MZ", "AF", -18.7, 35.5),  # Mozambique
    ("NA", "AF", -23.0, 18.5),  # Namibia
    ("NC", "OC", -21.3, 165.6),  # New Caledonia
    ("NE", "AF", 17.6, 8.1),  # Niger
    ("NF", "OC", -29.0, 168.0),  # Norfolk Island
    ("NG", "AF", 9.1, 8.7),  # Nigeria
    ("NI", "NA", 12.9, -85.2),  # Nicaragua
    ("NL", "EU", 52.1, 5.3),  # Netherlands (European part)
    ("NO", "EU", 60.5, 8.5),  # Norway (mainland)
    ("NP", "AS", 28.4, 84.1),  # Nepal
    ("NR", "OC", -0.5, 166.9),  # Nauru
    ("NU", "OC", -19.1, -169.9),  # Niue
    ("NZ", "OC", -40.9, 174.9),  # New Zealand
    ("OM", "AS", 21.5, 55.9),  # Oman
    ("PA", "NA", 8.5, -80.8),  # Panama
    ("PE", "SA", -9.2, -75.0),  # Peru
    ("PF", "OC", -17.7, -149.4),  # French Polynesia (Tahiti)
    ("PG", "OC", -6.3, 143.9),  # Papua New Guinea
    ("PH", "AS", 12.9, 121.8),  # Philippines
    ("PK", "AS", 30.4, 69.3),  # Pakistan
    ("PL", "EU", 51.9, 19.1),  # Poland
    ("PM", "NA", 46.9, -56.3),  # Saint Pierre and Miquelon
    ("PN", "OC", -25.1, -130.1),  # Pitcairn (Pitcairn Island)
    ("PR", "NA", 18.2, -66.6),  # Puerto Rico
    ("PS", "AS", 31.9, 35.2),  # Palestine, State of
    ("PT", "EU", 39.4, -8.2),  # Portugal (mainland)
    ("PW", "OC", 7.5, 134.6),  # Palau
    ("PY", "SA", -23.4, -58.4),  # Paraguay
    ("QA", "AS", 25.4, 51.2),  # Qatar
    ("RE", "AF", -21.1, 55.5),  # Réunion
    ("RO", "EU", 45.9, 25.0),  # Romania
    ("RS", "EU", 44.0, 21.0),  # Serbia
    ("RU", "EU", 61.5, 105.3),  # Russia
    ("RW", "AF", -1.9, 29.9),  # Rwanda
    ("SA", "AS", 23.9, 45.1),  # Saudi Arabia
    ("SB", "OC", -9.6, 160.2),  # Solomon Islands
    ("SC", "AF", -4.7, 55.5),  # Seychelles (Mahé)
    ("SD", "AF", 15.5, 30.2),  # Sudan
    ("SE", "EU", 60.1, 18.6),  # Sweden
    ("SG", "AS", 1.4, 103.8),  # Singapore
    ("SH", "AF", -15.9, -5.7),  # Saint Helena, Ascension and Tristan da Cunha (Saint Helena)
    ("SI", "EU", 46.2, 15.0),  # Slovenia
    ("SJ", "EU", 78.2, 16.0),  # Svalbard and Jan Mayen (Spitsbergen)
    ("SK", "EU", 48.7, 19.7),  # Slovakia
    ("SL", "AF", 8.5, -11.8),  # Sierra Leone
    ("SM", "EU", 43.9, 12.5),  # San Marino
    ("SN", "AF", 14.5, -14.5),  # Senegal
    ("SO", "AF", 5.2, 46.2),  # Somalia
    ("SR", "SA", 3.9, -56.0),  # Suriname
    ("SS", "AF", 7.0, 30.5),  # South Sudan
    ("ST", "AF", 0.2, 6.6),  # Sao Tome and Principe
    ("SV", "NA", 13.8, -88.9),  # El Salvador
    ("SX", "NA", 18.0, -63.1),  # Sint Maarten (Dutch part)
    ("SY", "AS", 34.8, 39.0),  # Syria
    ("SZ", "AF", -26.5, 31.5),  # Eswatini
    ("TC", "NA", 21.7, -71.8),  # Turks and Caicos Islands
    ("TD", "AF", 15.5, 18.7),  # Chad
    ("TF", "AN", -49.3, 69.3),  # French Southern Territories (Kerguelen)
    ("TG", "AF", 8.6, 0.8),  # Togo
    ("TH", "AS", 15.9, 101.0),  # Thailand
    ("TJ", "AS", 38.9, 71.3),  # Tajikistan
    ("TK", "OC", -9.2, -171.8),  # Tokelau
    ("TL", "AS", -8.9, 125.7),  # Timor-Leste
    ("TM", "AS", 39.0, 59.6),  # Turkmenistan
    ("TN", "AF", 33.9, 9.5),  # Tunisia
    ("TO", "OC", -21.2, -175.2),  # Tonga (Tongatapu)
    ("TR", "AS", 39.0, 35.2),  # Türkiye
    ("TT", "NA", 10.7, -61.2),  # Trinidad and Tobago
    ("TV", "OC", -8.5, 179.2),  # Tuvalu (Funafuti)
    ("TW", "AS", 23.7, 121.0),  # Taiwan
    ("TZ", "AF", -6.4, 34.9),  # Tanzania
    ("UA", "EU", 48.4, 31.2),  # Ukraine
    ("UG", "AF", 1.4, 32.3),  # Uganda
    ("UM", "OC", 19.3, 166.6),  # United States Minor Outlying Islands (Wake Island)
    ("US", "NA", 39.8, -98.6),  # United States (contiguous)
    ("UY", "SA", -32.5, -55.8),  # Uruguay
    ("UZ", "AS", 41.4, 64.6),  # Uzbekistan
    ("VA", "EU", 41.9, 12.5),  # Holy See
    ("VC", "NA", 13.3, -61.2),  # Saint Vincent and the Grenadines (Saint Vincent)
    ("VE", "SA", 6.4, -66.6),  # Venezuela
    ("VG", "NA", 18.4, -64.6),  # Virgin Islands, British
    ("VI", "NA", 18.3, -64.9),  # Virgin Islands, U.S.
    ("VN", "AS", 14.1, 108.3),  # Viet Nam
    ("VU", "OC", -15.4, 166.9),  # Vanuatu
    ("WF", "OC", -13.3, -176.2),  # Wallis and Futuna (Wallis)
    ("WS", "OC", -13.8, -172.1),  # Samoa
    ("YE", "AS", 15.6, 48.5),  # Yemen
    ("YT", "AF", -12.8, 45.2),  # Mayotte
    ("ZA", "AF", -30.6, 22.9),  # South Africa
    ("ZM", "AF", -13.1, 27.8),  # Zambia
    ("ZW", "AF", -19.0, 29.2),  # Zimbabwe
)

COUNTRIES: dict[str, Country] = {row[0]: Country(*row) for row in _COUNTRY_ROWS}

# USPS state code (also the ISO 3166-2:US suffix) -> approximate geographic centre.
US_STATES: dict[str, tuple[float, float]] = {
    "AK": (63.8, -152.0),
    "AL": (32.8, -86.7),
    "AR": (34.8, -92.3),
    "AZ": (34.3, -111.7),
    "CA": (36.8, -119.4),
    "CO": (39.0, -105.5),
    "CT": (41.6, -72.7),
    "DC": (38.9, -77.0),
    "DE": (39.0, -75.5),
    "FL": (28.6, -82.4),
    "GA": (32.7, -83.5),
    "HI": (20.3, -156.4),
    "IA": (42.0, -93.4),
    "ID": (44.4, -114.6),
    "IL": (40.0, -89.2),
    "IN": (39.9, -86.3),
    "KS": (38.5, -98.4),
    "KY": (37.5, -85.3),
    "LA": (31.0, -92.0),
    "MA": (42.3, -71.8),
    "MD": (39.0, -76.8),
    "ME": (45.3, -69.2),
    "MI": (44.3, -85.4),
    "MN": (46.3, -94.3),
    "MO": (38.4, -92.5),
    "MS": (32.7, -89.7),
    "MT": (47.0, -109.6),
    "NC": (35.6, -79.4),
    "ND": (47.5, -100.5),
    "NE": (41.5, -99.9),
    "NH": (43.7, -71.6),
    "NJ": (40.1, -74.6),
    "NM": (34.4, -106.1),
    "NV": (39.3, -116.6),
    "NY": (42.9, -75.5),
    "OH": (40.4, -82.7),
    "OK": (35.6, -97.5),
    "OR": (43.9, -120.6),
    "PA": (40.9, -77.8),
    "RI": (41.7, -71.6),
    "SC": (33.8, -80.9),
    "SD": (44.4, -100.2),
    "TN": (35.9, -86.4),
    "TX": (31.0, -99.9),
    "UT": (39.3, -111.7),
    "VA": (37.4, -78.7),
    "VT": (44.1, -72.7),
    "WA": (47.4, -120.5),
    "WI": (44.6, -89.9),
    "WV": (38.6, -80.6),
    "WY": (43.0, -107.6),
}


def continent_of(country: str) -> str | None:
    """The continent code of an ISO 3166-1 alpha-2 country code, or None if unknown."""
    entry = COUNTRIES.get(country.upper())
    return entry.continent if entry is not None else None


def centroid(country: str, subdivision: str | None = None) -> tuple[float, float] | None:
    """Approximate (latitude, longitude) of a country, or of a US state when one is given.

    The subdivision may be the bare state code ("CA") or the ISO 3166-2 form ("US-CA"); an
    unknown subdivision falls back to the country. None when the country is unknown.
    """
    code = country.upper()
    entry = COUNTRIES.get(code)
    if entry is None:
        return None
    if code == "US" and subdivision:
        state = subdivision.upper().removeprefix("US-")
        if state in US_STATES:
            return US_STATES[state]
    return (entry.latitude, entry.longitude)
