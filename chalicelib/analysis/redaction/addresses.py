"""Street addresses and PO boxes, by pattern, in the shapes of English (US/UK/CA/AU), Spanish, French, German,
Italian, Portuguese and Dutch.

An address is found from an anchor that only an address has, then extended over the parts written around it:
- anchors: a house number and a street type ("1600 Amphitheatre Parkway", "12 rue de la Paix"), a street
  type, a name and a number ("Calle Mayor 5", "Via Roma 10", "Rua Augusta, 100", "Platz der Republik 1"), a
  German or Dutch street word ("Hauptstraße 5", "Bahnhofstr. 12a", "Keizersgracht 123"), a name and a number
  right before a postcode and a town ("Damrak 1, 1012 LG Amsterdam"), a PO box in any of those languages
  ("PO Box 123", "Apartado de Correos 45", "BP 12", "Postfach 1234", "Postbus 99"), and a name and a number
  right after "my address is" / "mi dirección es" / "Adresse:" …;
- parts around it: flats, floors, suites and doors before or after ("Apt 4B", "3º B", "2e étage", "3. OG",
  "int. 5"), then postcodes with their town ("75002 Paris", "1100-053 Lisboa", "London NW1 6XE"), states and
  provinces with their codes ("Mountain View, CA 94043", "Toronto, ON M5H 1A1", "Sydney NSW 2000") and a
  country. A town on its own is taken only when a postcode or state follows it or the sentence ends there.

A postcode, a town or a state on its own is not an address and is left alone ("shipped from 94043", "our
Paris store"). What the patterns cannot know they miss: streets written without a number or a street word
("I live on Elm", "Damrak 1" with no postcode), lower-case street names ("12 elm street"), and house names.
Guards keep product text readable: a number followed by a unit or a count ("via Klarna 3 payments",
"Parkplatz 5 Minuten") is no house number, and brand-like words ("2 TB Drive", "4 Wheel Drive") no street.
Every repetition is bounded, so a hostile 100 KB text costs linear time.
"""

from __future__ import annotations

import functools
import re

Found = list[tuple[int, int]]
# The address patterns are compiled on first use, not at import: they take most of the redactor's compile
# time, which every cold start of the API would otherwise pay.
_compiled = functools.cache(re.compile)

_UP = "A-ZÀ-ÖØ-Þ"  # an upper-case Latin letter, accented ones included
_WORD = rf"[{_UP}][^\W\d_]{{0,30}}(?:['\u2019-][{_UP}]?[^\W\d_]{{1,30}}){{0,3}}"  # Champs-Élysées, O'Connell
_PARTICLE = (
    r"(?:(?:de|del|de la|de las|de los|dels|la|las|los|el|les|des|du|di|della|delle|dello|dei|degli|dal|"
    r"da|do|dos|das|van|der|den|het|von|vom|zum|zur|am|an|of|the|y|e|et)\s+|(?:d|l|dell|all|sull|nell)['\u2019])"
)
_NAME_WORD = rf"(?:{_WORD}|[{_UP}][a-zà-ÿ]{{0,3}}\.)"  # a name, or a title cut short: Dr., Sta., St.
_NAME = rf"(?:{_PARTICLE}){{0,3}}{_NAME_WORD}(?:\s+(?:{_PARTICLE}){{0,3}}{_NAME_WORD}){{0,4}}"
# Words that name a unit or a kind of thing in product text: "2 TB Drive", "4 Wheel Drive".
_NOT_A_STREET_NAME = r"(?!(?:TB|GB|MB|KB|Hard|Flash|Wheel|USB|SSD|HDD|Thumb|Test|Star|Stars|Day|Days)\b)"
_EN_NAME_WORD = rf"{_NOT_A_STREET_NAME}(?:{_NAME_WORD}|[0-9]{{1,3}}(?:st|nd|rd|th))"
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?"

# A house number: 12, 221B, 12-14, 3/45 (Australian unit/number), 12/A, 12 bis; never a decimal or longer.
_NUMBER = (
    r"(?:[0-9]{1,4}\s?/\s?)?[0-9]{1,5}[A-Za-z]?(?:-[0-9]{1,5}[A-Za-z]?)?(?:/[A-Za-z](?![\w]))?(?:\s(?:bis|ter))?"
    r"(?![\w])(?![.,][0-9])"
)
_NUMBER_WORD = r"(?:(?i:n[º°o]\.?|no\.|nr\.?|num\.?|n[úu]mero|#)\s*)?"
_COUNT_WORDS = (
    r"times|days?|weeks?|hours?|hrs?|mins?|minutes?|seconds?|months?|years?|yrs?|stars?|items?|pieces?|pcs|"
    r"units?|people|persons?|guests?|nights?|euros?|dollars?|pounds?|points?|pts|percent|payments?|orders?|"
    r"kg|km|mi|miles?|m|cm|mm|gb|mb|tb|of|out|x|"
    r"d[ií]as?|horas?|semanas?|meses|mes|años?|veces|estrellas?|noches?|personas?|minutos?|pesos?|cuotas|"
    r"jours?|heures?|fois|semaines?|mois|ans|années?|étoiles?|nuits?|personnes?|"
    r"tage?n?|stunden?|wochen?|monate?n?|jahre?n?|mal|sterne?n?|nächte|personen|minuten|stück|"
    r"giorni|giorno|ore|settimane|mesi|anni|volte|stelle|notti|persone|minuti|rate|"
    r"semanas|vezes|estrelas|noites|pessoas|"
    r"dagen|dag|uur|weken|maanden|jaar|keer|sterren|nachten"
)
_NOT_A_COUNT = rf"(?!\s*(?:[%€$£]|(?i:{_COUNT_WORDS})\b))"

_EN_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|square|sq|terrace|tce|"
    r"parkway|pkwy|highway|hwy|way|close|crescent|cres|grove|gardens|gdns|mews|circle|cir|trail|alley|parade|"
    r"esplanade|quay|wharf|plaza|expressway|freeway|pike|loop"
)
_FR_TYPES = (
    r"rue|avenue|av|ave|boulevard|bd|bld|blvd|place|pl|allée|allee|chemin|ch|impasse|imp|quai|route|rte|"
    r"passage|square|sentier|voie|rond-point|faubourg|fbg|cité|résidence|lotissement|hameau|lieu-dit|"
    r"promenade|esplanade|parvis"
)
# Street types written before the name (Spanish, Italian, Portuguese, French in Belgium and Switzerland,
# German "Platz der …"); those that are also everyday English words need a clause end after the number.
_TYPES_BEFORE = (
    r"calle|avenida|paseo|ronda|carretera|travesía|travesia|glorieta|callejón|callejon|pasaje|urbanización|"
    r"bulevar|viale|piazza|piazzale|vicolo|contrada|lungomare|lungotevere|borgo|salita|rua|travessa|praça|"
    r"praca|estrada|beco|rodovia|calçada|praceta|ladeira|rue|chaussée|chemin|allée|quai|straße|strasse|platz"
)
_TYPES_BEFORE_AMBIGUOUS = r"via|place|plaza|corso|largo|camino|strada|alameda|route|avenue|boulevard|rambla"
_TYPE_ABBREVIATIONS = (
    r"c/|cl\.|avda\.|avd\.|av\.|pº|p\.º|ctra\.|pza\.|plza\.|urb\.|v\.le|p\.zza|c\.so|tv\.|bd\.|r\."
)
_DE_NL_SUFFIXES = (
    r"straße|strasse|str\.|weg|allee|platz|gasse|damm|ufer|chaussee|straat|laan|plein|gracht|kade|singel|"
    r"dijk|steeg"
)
# Compounds of those words that are not streets: "Sitzplatz 12", "auf dem Rückweg 2 …".
_NOT_A_DE_STREET = (
    r"(?!(?:Sitz|Park|Stell|Arbeits|Spiel|Camping|Start|Steck|Speicher|Liege|Zelt|Rück|Um|Heim|Hin|Aus|"
    r"Liefer|Versand|Zahlungs|Lösungs|Markt|Last)(?:platz|weg)\b)"
)
# Capitalised words that start German sentences, not street names ("Auf Platz 2").
_NOT_A_DE_NAME = (
    r"(?!(?:Auf|Am|Im|In|An|Der|Die|Das|Den|Dem|Mit|Zum|Zur|Von|Vom|Bis|Nach|Ab|Für|Aus|Bei|Über|Vor|Ein|"
    r"Eine|Einen|Mein|Meine|Unser|Unsere|Ihr|Ihre|Sein|Seine|Wir|Ich|The|On|At|My|Our|Op|Het|De|Een)\s)"
)

_UNIT_WORDS = (
    r"apt|apartment|flat|unit|suite|ste|level|lvl|floor|fl|building|bldg|block|blk|piso|planta|puerta|pta|"
    r"escalera|esc|portal|bloque|apartamento|departamento|depto|dpto|local|oficina|appartement|appt|app|"
    r"bâtiment|bât|bat|étage|etage|escalier|porte|wohnung|whg|stock|haus|aufgang|interno|int|scala|sc|"
    r"piano|edificio|palazzina|apto|ap|andar|bloco|sala|loja|fração|bus|verdieping"
)
_FLOOR_WORDS = (
    r"floor|fl|étage|etage|piso|planta|andar|piano|og|stock|obergeschoss|verdieping|izq(?:uierda)?|dcha|"
    r"der(?:echa)?|dto|esq(?:uerdo)?|dir(?:eito)?|centro|frente|fte"
)
_UNIT = (
    rf"(?:(?i:{_UNIT_WORDS})\.?\s*(?:(?i:n[º°o])\.?\s*)?#?\s*[0-9]{{1,4}}[A-Za-z]?(?![\w])"
    r"|(?i:apt|apartment|flat|unit|suite|building|bldg|block|bloque|escalera|esc|portal|bâtiment|bât|bat|"
    r"escalier|scala|bloco|aufgang|haus|puerta)\.?\s+[A-Z](?![\w])"
    r"|#\s?[0-9]{1,5}[A-Za-z]?(?![\w])"
    r"|(?i:km)\.?\s?[0-9]{1,4}(?:[.,][0-9]{1,3})?(?![\w])"
    rf"|[0-9]{{1,2}}(?:\.?\s?[ºª°]|st|nd|rd|th|e|er|ème|eme|\.)\s?(?:(?i:{_FLOOR_WORDS})\b\.?|[A-Z](?![\w]))"
    r"|[0-9]{1,2}\.?[ºª°](?![\w])"
    r"|(?i:bajo|entresuelo|ático|atico|r/c)(?:\s[A-Z](?![\w]))?)"
)

_TOWN_WORD = rf"(?!(?i:cedex)\b)[{_UP}][^\W\d_]{{1,30}}(?:['\u2019-][{_UP}]?[^\W\d_]{{1,30}}){{0,3}}"
_TOWN = rf"{_TOWN_WORD}(?:\s+(?:{_PARTICLE}){{0,2}}{_TOWN_WORD}){{0,3}}"
_US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
    "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
)
_CA_PROVINCES = "AB BC MB NB NL NS NT NU ON PE QC SK YT"
_AU_STATES = "NSW VIC QLD SA WA TAS ACT NT"
_BR_STATES = "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO"
_REGIONS = "|".join(
    sorted(set(f"{_US_STATES} {_CA_PROVINCES} {_AU_STATES} {_BR_STATES}".split()), key=len, reverse=True)
)
_CA_POSTCODE = r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"
_UK_POSTCODE = r"(?:[A-PR-UWYZ][A-HK-Y]?[0-9][A-Z0-9]?|GIR) ?[0-9][ABD-HJLNP-UW-Z]{2}"
_POSTCODE = (
    r"(?:[A-Z]{1,2}-)?(?:[A-Z][0-9]{4}(?:[A-Z]{3})?|[0-9]{5}-[0-9]{3}|[0-9]{4}-[0-9]{3}|[0-9]{5}"
    r"|[1-9][0-9]{3}(?:\s?(?!SA|SD|SS)[A-Z]{2})?)"
)
_COUNTRY = (
    r"(?:USA|U\.S\.A\.|US|United States|UK|U\.K\.|United Kingdom|England|Scotland|Wales|Ireland|Canada|"
    r"Australia|New Zealand|Spain|España|Espanya|France|Deutschland|Germany|Österreich|Austria|Schweiz|"
    r"Suisse|Svizzera|Switzerland|Italia|Italy|Portugal|Brasil|Brazil|Nederland|Netherlands|Belgium|"
    r"Belgique|België|México|Mexico|Argentina|Colombia|Chile|Perú|Peru)(?![\w])"
)

_BEFORE_NUMBER = r"(?<![\w$€£#/.,:-])"
_ANCHORS = [
    # 1600 Amphitheatre Parkway; 350 5th Ave; 221B Baker Street; 500 W 42nd St NW
    (
        rf"{_BEFORE_NUMBER}{_NUMBER}\s+(?:{_DIRECTION}\s+)?{_EN_NAME_WORD}(?:\s+{_EN_NAME_WORD}){{0,3}}"
        rf"\s+(?i:{_EN_TYPES})\b\.?(?:\s+{_DIRECTION}(?![\w]))?"
    ),
    (rf"{_BEFORE_NUMBER}{_NUMBER}\s+(?:{_DIRECTION}\s+)?Broadway\b"),
    # 12 rue de la Paix; 8, place Vendôme; 3 bd Saint-Michel
    (rf"{_BEFORE_NUMBER}{_NUMBER},?\s+(?i:{_FR_TYPES})\b\.?\s+{_NAME}"),
    # Calle Mayor 5; Avenida da Liberdade, 245; C/ Gran Vía 32; Rua das Flores, nº 12; Rue de la Loi 16
    (
        rf"(?<![\w])(?:(?i:{_TYPES_BEFORE})\s+|(?i:{_TYPE_ABBREVIATIONS})\s*){_NAME}(?:,\s*|\s+)"
        rf"{_NUMBER_WORD}(?:{_NUMBER}|(?i:s/n)){_NOT_A_COUNT}"
    ),
    # via Roma 10, Piazza Navona 5: "via", "place", "plaza" … need the number to end the clause or an address
    (
        rf"(?<![\w])(?i:{_TYPES_BEFORE_AMBIGUOUS})\s+{_NAME}(?:,\s*|\s+){_NUMBER_WORD}{_NUMBER}"
        rf"(?=\s*(?:$|[,.;:!?)(\n]|-\s|{_UNIT}|{_POSTCODE}\s))"
    ),
    (rf"\bGran\s+V[ií]a,?\s+{_NUMBER_WORD}{_NUMBER}"),
    # Calle 50 #12-30; Carrera 7 # 71-21 (Colombia and its neighbours: street, number of the cross street)
    (
        r"(?<![\w])(?i:calle|cl\.|carrera|cra\.?|kr\.?|avenida|av\.|diagonal|dg\.|transversal|tv\.)\s*"
        r"[0-9]{1,3}[A-Za-z]?(?:\s?bis)?\s*(?:#|(?i:n[º°o]\.?))\s*[0-9]{1,3}[A-Za-z]?\s?-\s?[0-9]{1,3}(?![\w])"
    ),
    # 12 elm street; lindenstraße 4: typed all in lower case, with a street word nothing else ends in
    (
        rf"{_BEFORE_NUMBER}[0-9]{{1,5}}[a-z]?\s+[a-z]{{3,20}}(?:\s+[a-z]{{3,20}})?\s+(?:street|avenue|boulevard)\b"
    ),
    (rf"(?<![\w-])[a-zäöüß]{{2,30}}(?:straße|strasse|straat|gracht)\s*{_NUMBER}{_NOT_A_COUNT}"),
    # Hauptstraße 5; Bahnhofstr. 12a; Keizersgracht 123; Berliner Straße 5; Karl-Marx-Allee 12
    (
        rf"(?<![\w-]){_NOT_A_DE_NAME}(?:{_WORD}[\s-]){{0,2}}{_NOT_A_DE_STREET}[{_UP}][^\W\d_]{{1,30}}?"
        rf"(?:{_DE_NL_SUFFIXES})\s*{_NUMBER_WORD}{_NUMBER}{_NOT_A_COUNT}"
    ),
    (
        rf"(?<![\w-]){_NOT_A_DE_NAME}(?:{_WORD}[\s-]){{1,3}}(?i:{_DE_NL_SUFFIXES})\s*{_NUMBER_WORD}{_NUMBER}"
        rf"{_NOT_A_COUNT}"
    ),
    # Damrak 1, 1012 LG Amsterdam; Unter den Linden 77, 10117 Berlin (a round 10000 is a count, no postcode)
    (
        rf"(?<![\w-]){_NOT_A_DE_NAME}(?:{_WORD}\s+(?:{_PARTICLE}){{0,2}}){{0,3}}{_WORD}\s+{_NUMBER}"
        rf"(?=,\s*(?![0-9]{{2}}000\b){_POSTCODE}\s+{_TOWN_WORD})"
    ),
    # PO boxes
    (
        r"(?<![\w])(?:(?i:p\.?\s?o\.?\s?box|post office box|gpo box|locked bag|private bag|"
        r"apartado de correos|apartado postal|apdo\.?(?:\s+de\s+correos)?|casilla de correos?|casilla postal|"
        r"bo[iî]te postale|"
        r"postfach|casella postale|caixa postal|postbus|antwoordnummer)|B\.P\.|BP)"
        r"\s*(?:(?i:n[º°o]\.?|no\.|nr\.?)\s*)?#?\s*[0-9]{1,6}(?![0-9/])"
    ),
]
# After words that announce an address, a name and a number (either order) are one: "Adresse: Damrak 1".
_ADDRESS_WORDS = (
    r"(?<!\w)(?i:my (?:home |delivery |shipping )?address is|(?:home |delivery |shipping )?address:|"
    r"mi direcci[oó]n es|direcci[oó]n:|domicilio:|mon adresse est|adresse ?:|meine adresse (?:ist|lautet)|"
    r"anschrift:|il mio indirizzo è|indirizzo:|meu endere[çc]o é|endere[çc]o:|morada:|mijn adres is|adres:|"
    r"I live at|vivo en|j'habite(?: au)?|ich wohne (?:in der|im|am)|abito in|moro na|moro em|woon (?:op|aan))"
    rf"\s*((?:{_NAME}),?\s+{_NUMBER_WORD}{_NUMBER}|{_NUMBER}\s+{_NAME}){_NOT_A_COUNT}"
)

_SEPARATOR = re.compile(r"\s*[,\n]\s*|\s+[-\u2013]\s+|\s+")
_STRONG_TAILS = [
    (_UNIT),
    # Mountain View, CA 94043; Toronto, ON M5H 1A1; Sydney NSW 2000; São Paulo - SP, 01310-200
    (
        rf"(?:{_TOWN}(?:,\s*|\s+-\s+|\s+))?(?:{_REGIONS})(?:(?:,\s*|\s+)(?:[0-9]{{5}}(?:-[0-9]{{3,4}})?|"
        rf"{_CA_POSTCODE}|[0-9]{{4}}))?(?![\w])"
    ),
    (rf"(?:{_TOWN},?\s+)?{_UK_POSTCODE}(?![\w])"),
    (rf"{_TOWN}\s+[0-9]{{4}}(?![\w])"),  # Wellington 6011, Oslo 0150
    (rf"{_CA_POSTCODE}(?![\w])"),
    # 75002 Paris; 28300 Aranjuez (Madrid); 1100-053 Lisboa; 1012 LG Amsterdam; 75008 Paris Cedex 08
    (rf"{_POSTCODE}\s*(?:-\s*)?{_TOWN}(?:\s+(?i:cedex)(?:\s+[0-9]{{1,2}})?)?(?:\s*\({_TOWN}\))?"),
    (r"(?i:col\.|colonia|bairro|barrio)\s+" + _TOWN),
    (_COUNTRY),
]
_WEAK_TAIL = _TOWN
_CLAUSE_END = rf"\s*(?:$|[.;!?)\n]|,\s*(?![{_UP}0-9]))"
_UNIT_BEFORE = rf"(?<![\w])(?:{_UNIT})(?:\s*,\s*|\s+)"
_MAX_PARTS = 6


def _extend_right(text: str, end: int) -> int:
    """Take the unit, postcode, town, region and country parts that follow an address."""
    committed = position = end
    weak = 0
    for _ in range(_MAX_PARTS):
        separator = _SEPARATOR.match(text, position)
        if separator is None:
            break
        start = separator.end()
        strong = next(
            (m for p in _STRONG_TAILS if (m := _compiled(p).match(text, start)) and m.end() > start), None
        )
        if strong is not None:
            committed = position = strong.end()
            weak = 0
            continue
        town = _compiled(_WEAK_TAIL).match(text, start)
        if town is None or weak == 2:
            break
        position, weak = town.end(), weak + 1
    if weak and _compiled(_CLAUSE_END).match(text, position):
        committed = position
    return committed


def _extend_left(units_before: dict[int, int], start: int) -> int:
    """Take the flat, suite or floor written before an address ("Apt 4B, 350 Fifth Avenue").

    `units_before` maps where a unit and its separator end to where the unit starts."""
    for _ in range(2):
        start = units_before.get(start, start)
    return start


# Every anchor holds a digit at most this far from its start (five 30-letter names and a street type) or
# end, so the anchors are looked for only in windows around the digits: most feedback has few.
_REACH_BEFORE_DIGIT, _REACH_AFTER_DIGIT = 260, 260
_DIGITS = re.compile(r"[0-9]+")


def _windows(text: str) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for digits in _DIGITS.finditer(text):
        start, end = max(0, digits.start() - _REACH_BEFORE_DIGIT), digits.end() + _REACH_AFTER_DIGIT
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def addresses(text: str) -> Found:
    """(start, end) of every street address and PO box in the text, merged where they touch."""
    anchors = set()
    for window_start, window_end in _windows(text):
        # a window's end cuts no anchor short: an anchor reaches at most _REACH_AFTER_DIGIT past a digit
        for pattern in _ANCHORS:
            anchors.update(m.span() for m in _compiled(pattern).finditer(text, window_start, window_end))
        anchors.update(m.span(1) for m in _compiled(_ADDRESS_WORDS).finditer(text, window_start, window_end))
    found: Found = []
    units_before = {m.end(): m.start() for m in _compiled(_UNIT_BEFORE).finditer(text)} if anchors else {}
    for anchor_start, anchor_end in sorted(anchors):
        if found and anchor_end <= found[-1][1]:
            continue  # inside an address already found and extended
        start, end = _extend_left(units_before, anchor_start), _extend_right(text, anchor_end)
        if found and start <= found[-1][1]:
            found[-1] = (found[-1][0], max(found[-1][1], end))
        else:
            found.append((start, end))
    return found
