# ruff: noqa: E501
# (sentence banks: one template per line reads better than strings split mid-phrase)
"""Hand-written English vocabularies and sentence templates for the demo corpus.

Everything here was written for curaline; no line comes from an existing dataset. The
templates put a slot every few words so that two unrelated generated documents share
few word 5-grams: the dedup stage must then find only the duplicates we planted.
Slots are filled by `compose.Slots` (``{name}`` etc. are per-document facts, the rest
are drawn afresh for every sentence).
"""

from __future__ import annotations

# --- names --------------------------------------------------------------------------

GIVEN_NAMES = [
    "Ada", "Aldo", "Amara", "Anselm", "Beatrix", "Bruno", "Cato", "Celia", "Dario",
    "Delphine", "Edda", "Emil", "Fenna", "Florian", "Greta", "Gideon", "Hanne", "Hugo",
    "Ilse", "Ivo", "Jorun", "Jasper", "Katja", "Lennart", "Liora", "Magnus", "Mirela",
    "Nadia", "Niels", "Odile", "Osric", "Petra", "Quentin", "Rosalind", "Ruben", "Saskia",
    "Silas", "Tamsin", "Teodor", "Ursula", "Valentin", "Wilma", "Xaver", "Yara", "Zeno",
    "Agnes", "Benedikt", "Clementine", "Dorian", "Elska", "Farid", "Henrike", "Imre",
]

NAME_ONSETS = [
    "Al", "Bar", "Bren", "Cal", "Dor", "Eld", "Fen", "Gar", "Hal", "Ist", "Jor", "Kel",
    "Lor", "Mar", "Nor", "Ost", "Pell", "Quar", "Rav", "Sel", "Tor", "Ulv", "Ves", "Wen",
    "Yst", "Zar", "Brav", "Corr", "Drem", "Fald", "Grel", "Hask", "Lum", "Mird", "Orv",
]

NAME_MIDDLES = ["", "a", "e", "i", "o", "en", "ar", "is", "om", "el", "un", "av"]

PLACE_ENDINGS = [
    "ford", "mere", "dale", "holm", "stead", "wick", "ton", "by", "vale", "gard",
    "haven", "moor", "bridge", "field", "crest", "mouth", "thorpe", "burg", "stow", "ness",
]

SURNAME_ENDINGS = [
    "ström", "mann", "ovic", "sen", "ley", "ard", "ini", "ez", "berg", "wood", "ski",
    "er", "ace", "ford", "quist", "elli", "hart", "ow", "eau", "ing",
]

COUNTRIES = [
    "Estmark", "Valdoria", "Korvane", "Lisvany", "Ostrelia", "Brennmark", "Tavrich",
    "Solvenne", "Maritz", "Quellan", "Ardesh", "Norwend",
]

# --- per-sentence fillers --------------------------------------------------------

ADJECTIVES = [
    "quiet", "prosperous", "narrow", "windswept", "fertile", "rugged", "modest", "busy",
    "remote", "sheltered", "elegant", "sprawling", "compact", "weathered", "ambitious",
    "peculiar", "steady", "colourful", "sober", "generous", "stubborn", "graceful",
]
MATERIALS = [
    "granite", "limestone", "red brick", "oak timber", "slate", "sandstone", "basalt",
    "cedar", "fired clay", "whitewashed stone", "iron and glass", "larch shingles",
]
CROPS = [
    "barley", "rye", "flax", "apples", "hops", "turnips", "buckwheat", "plums", "hemp",
    "sugar beet", "cherries", "oats", "lentils", "pears",
]
TRADES = [
    "weaving", "tanning", "clockmaking", "glassblowing", "boatbuilding", "printing",
    "rope making", "pottery", "bell founding", "cheese making", "furniture making",
    "paper milling", "lace making", "brewing",
]
ANIMALS = [
    "heron", "otter", "kingfisher", "marten", "grey wagtail", "salamander", "dormouse",
    "red kite", "dipper", "water vole", "crested newt", "sand lizard", "hoopoe",
]
SUBJECTS = [
    "astronomy", "botany", "geology", "hydraulics", "optics", "metallurgy", "cartography",
    "acoustics", "mineralogy", "meteorology", "soil chemistry", "mechanics", "zoology",
    "statistics", "navigation",
]
INSTRUMENTS = [
    "viola", "bassoon", "harpsichord", "zither", "cornet", "hurdy-gurdy", "cello",
    "lute", "accordion", "oboe",
]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]
ORDINAL_CENTURIES = [
    "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
]
COLOURS = ["ochre", "slate-blue", "rust-red", "pale green", "silver-grey", "amber", "violet"]
DIRECTIONS = ["north", "south", "east", "west", "north-east", "south-west"]
HABITATS = [
    "damp meadows", "limestone scree", "alder woods", "coastal dunes", "upland bogs",
    "river gravel bars", "beech forests", "salt marshes", "dry heath",
]
BUILDINGS = [
    "town hall", "grain exchange", "covered market", "parish church", "water tower",
    "customs house", "observatory", "toll bridge", "public library", "guild hall",
]

# --- encyclopedia ----------------------------------------------------------------
# Each topic type: a title pattern, a noun for "the X" and sections of templates.

ENCYCLOPEDIA: dict[str, dict[str, object]] = {
    "settlement": {
        "title": "{name}",
        "noun": "the town",
        "sections": [
            [
                "{name} is a {adj} town in {region}, a province of {country}, with about {big} inhabitants.",
                "{name} lies on the {dir} bank of the {river}, roughly {km} kilometres from {place}.",
                "The town of {name} serves as the market centre for {n_mid} surrounding villages in {region}.",
                "{name} is known across {country} for its {adj} old quarter and its {material} houses.",
                "Visitors reach {name} by the regional line from {place}, a journey of about {n_mid} minutes.",
                "With some {big} residents, {name} is the {ordinal} largest settlement in {region}.",
            ],
            [
                "The first written record of {name} dates from {year}, when a charter mentioned a ferry crossing there.",
                "During the {century} century the settlement grew around a {building} built of {material}.",
                "In {year} a fire destroyed {pct} percent of the wooden houses, and the council ordered new walls of {material}.",
                "{founder} is remembered locally as the merchant who paid for the first stone bridge in {year}.",
                "The railway from {place} reached {name} in {year}, and the population doubled within {n_small} decades.",
                "A long dispute with {place} over fishing rights on the {river} was only settled in {year}.",
                "Records from {year} list {n_mid} workshops devoted to {trade} inside the old walls.",
                "After {year} many families left for the cities of {country}, and several streets stood empty for years.",
                "Soldiers from {country2} occupied {name} for {n_small} months in {year}, and the mayor was briefly imprisoned.",
                "An outbreak of fever in {year} killed about {pct} percent of the people living near the harbour.",
                "The {building} was rebuilt in {year} to plans by the architect {person}, who also designed the school.",
            ],
            [
                "The climate is mild, with an average of {n_mid} days of frost each winter and warm, dry summers.",
                "The soils around {name} are well suited to {crop} and {crop2}, which cover most of the plain.",
                "To the {dir}, the land rises towards the {mountain}, whose highest point reaches {m} metres.",
                "The municipal area covers {km} square kilometres, of which {pct} percent is woodland.",
                "A chain of shallow ponds east of the centre provides habitat for the {animal} and the {animal2}.",
                "Winters can be harsh: in {year} the {river} froze solid and carts crossed it for {n_small} weeks.",
                "Annual rainfall averages {n_mid}0 millimetres, most of it falling between {month} and {month2}.",
                "The old town stands on a low ridge of {material}, which kept it dry during the floods of {year}.",
            ],
            [
                "Today the local economy rests on {trade}, {crop} farming and a growing number of small software firms.",
                "The weekly market, held every {weekday} since {year}, still draws traders from {place} and {place2}.",
                "A cooperative founded in {year} processes most of the {crop} harvested in the district.",
                "Tourism has grown since {year}, mainly thanks to walkers heading for the {mountain}.",
                "The largest employer is a {trade} works that opened in {year} and now employs {n_mid}0 people.",
                "Unemployment in {name} stood at {pct} percent in {year2}, above the average for {region}.",
                "A business park on the road to {place} has attracted {n_small} logistics firms since {year}.",
                "Many residents commute to {place2}, where wages in {trade} are considerably higher.",
            ],
            [
                "Every {month} the town holds a fair in honour of {founder}, with music played on the {instrument}.",
                "The {building} on the main square, completed in {year}, houses a small museum of {trade}.",
                "Local cooking is known for a stew of {crop} and smoked fish from the {river}.",
                "The town band, founded in {year}, is one of the oldest amateur ensembles in {country}.",
                "{name} is twinned with {place}, and pupils from both towns exchange visits each {month}.",
                "The local football club, founded in {year}, plays in the {ordinal} division of {country}.",
                "A small theatre in a converted {building} stages {n_mid} performances a year.",
                "The novelist {person} spent the summer of {year} in {name} and set a book in its streets.",
            ],
        ],
    },
    "river": {
        "title": "{name} River",
        "noun": "the river",
        "sections": [
            [
                "The {name} is a river of {country}, about {km} kilometres long, that drains much of {region}.",
                "Rising on the slopes of the {mountain}, the {name} flows {dir} before joining the {river}.",
                "The {name} is the longest river entirely within {region}, with a basin of {big} square kilometres.",
                "Its name is thought to derive from an old word for {adj} water, first recorded in {year}.",
                "For much of its length the {name} marks the boundary between {region} and the district of {place}.",
            ],
            [
                "The upper course runs through {habitat} and narrow gorges cut into {material}.",
                "Below {place} the valley widens, and the river meanders across a plain planted with {crop}.",
                "The mean discharge at {place} is {n_mid} cubic metres per second, peaking each {month} with snowmelt.",
                "{n_small} tributaries join the {name}, the largest being the stream that rises near {place2}.",
                "A weir built at {place} in {year} still controls the water level for the old mill channels.",
                "Near {place2} the river passes through a gorge only {n_mid} metres wide, popular with climbers.",
                "The lower course is tidal for about {n_small} kilometres, and the water turns brackish in dry summers.",
            ],
            [
                "Barges carried {crop} and timber down the {name} until the railway took over in {year}.",
                "In {year} a flood swept away {n_small} bridges and left much of {place} under water for weeks.",
                "Engineers led by {founder} straightened a {km} kilometre stretch of the river between {year} and {year2}.",
                "Mills along the banks once powered workshops for {trade}, and several of their wheels survive.",
                "A canal dug in {year} links the {name} with the {river}, shortening the route to the coast.",
                "In {year} a chemical spill from a {trade} works near {place} killed fish along {km} kilometres.",
                "The first bridge of {material} over the {name} was built at {place} in the {century} century.",
            ],
            [
                "The clean upper reaches support the {animal}, which had vanished from the lowlands by {year}.",
                "Since {year} a restoration programme has reopened {n_small} side channels to fish migration.",
                "Anglers value the river for its grayling, although catches are limited to {n_small} fish a day.",
                "Surveys counted {n_mid} pairs of the {animal} along the river in {year}, more than double the earlier figure.",
                "Canoe tours between {place} and {place2} have become popular since {year}.",
                "A long-distance footpath follows the {name} for {km} kilometres, with huts every {n_mid} kilometres.",
                "Water quality improved after {year}, when treatment plants were built at {place} and {place2}.",
            ],
        ],
    },
    "scientist": {
        "title": "{name}",
        "noun": "the scientist",
        "sections": [
            [
                "{name} ({year0}–{year_end}) was a scholar from {country} who worked mainly on {subject}.",
                "{name} was a scientist of {country}, best known for early measurements in {subject} and {subject2}.",
                "Born in {place} in {year0}, {name} became one of the leading figures of {subject} in {country}.",
                "{name} ({year0}–{year_end}) was a naturalist and teacher whose work on {subject} influenced a generation of students.",
            ],
            [
                "{surname} grew up in a family of {trade} and attended the grammar school at {place}.",
                "At the age of {n_teen}, {surname} went to study {subject} under {person} at {institution}.",
                "A scholarship granted in {year} allowed {surname} to spend {n_small} years travelling through {country2}.",
                "{surname}'s early notebooks, kept since {year}, record daily observations of the {animal} and of the weather.",
                "The family moved to {place2} when {surname} was {n_small}, after the father's workshop burned down.",
                "{surname} worked for {n_small} years as a clerk in {place} while studying {subject} in the evenings.",
            ],
            [
                "In {year} {surname} published a study of {subject} that relied on {n_mid} carefully repeated trials.",
                "{surname} designed a new kind of instrument, cast in brass and {material}, to measure small changes in pressure.",
                "Working with {person}, {surname} showed that earlier tables of {subject} contained systematic errors.",
                "The method {surname} proposed in {year} was adopted by surveyors across {region} within a decade.",
                "Over {n_mid} letters between {surname} and {person} survive, most of them about {subject}.",
                "An expedition to the {mountain} in {year} gave {surname} data for a map of the region's {subject}.",
                "{surname} kept a private observatory on the roof of a house in {place}, paid for by selling family land.",
                "Some of {surname}'s figures were later shown to be {pct} percent too high, owing to a faulty scale.",
            ],
            [
                "{surname} was elected to {institution} in {year} and served as its secretary for {n_small} years.",
                "Critics in {country2} disputed several of {surname}'s results, and the debate lasted until {year}.",
                "A crater on the far side of the Moon and a street in {place} are named after {surname}.",
                "{surname} died in {place2} in {year_end}; the papers were given to the library of {institution}.",
                "A prize for young researchers in {subject}, awarded by {institution}, bears the name of {surname}.",
                "Biographers describe {surname} as {adj} and private, rarely seen outside the laboratory.",
                "{surname}'s textbook on {subject2} went through {n_small} editions and was translated into {n_small2} languages.",
            ],
        ],
    },
    "species": {
        "title": "{name}",
        "noun": "the species",
        "sections": [
            [
                "{name}, commonly called the {common}, is a species of {group} found in {habitat} of {country}.",
                "The {common} ({name}) is a small {group} native to {region} and neighbouring parts of {country2}.",
                "{name} is a {group} first described by {person} in {year} from specimens collected near {place}.",
                "{name} is a {adj} {group} of {region}, where it is known locally as the {common}.",
            ],
            [
                "Adults reach a length of {n_small}0 millimetres and have {colour} markings along the flanks.",
                "The {common} can be told apart from similar species by its {colour} underside and short tail.",
                "Young individuals are paler and lack the {colour} band that adults show after their {ordinal} year.",
                "Males are slightly larger than females and have a {colour} patch behind the eyes.",
                "Its call, heard mostly at dusk in {month}, is a short {adj} trill repeated {n_small} times.",
            ],
            [
                "The species prefers {habitat} at altitudes between {m} and {m2} metres.",
                "Populations are scattered across {region}, with the largest colony recorded near {place}.",
                "It shares its range with the {animal}, which feeds on it during the {month} breeding season.",
                "Field counts in {year} estimated about {big} individuals across the whole range.",
                "It feeds mainly on small insects and seeds, foraging close to the ground in {habitat}.",
                "Females lay {n_small} to {n_teen} eggs in {month}, usually under stones or fallen bark.",
                "Individuals marked near {place} in {year} were found {km} kilometres away the following year.",
            ],
            [
                "Drainage of {habitat} has reduced its range by roughly {pct} percent since {year}.",
                "The {common} is protected in {country} under a law passed in {year}.",
                "Volunteers from {place} monitor {n_small} breeding sites every {month} and report to {institution}.",
                "Climate models suggest that suitable habitat could shrink by a further {pct} percent by the end of the century.",
                "A breeding programme at {institution} released {n_mid} young animals into {habitat} in {year}.",
                "Road deaths are a serious threat, and tunnels were built under the highway near {place} in {year}.",
                "The species is listed as vulnerable in the red list of {country}, revised in {year}.",
            ],
        ],
    },
    "invention": {
        "title": "{name} process",
        "noun": "the process",
        "sections": [
            [
                "The {name} process is a method of {trade} developed in {country} during the {century} century.",
                "The {name} process, named after its inventor {founder}, made {trade} faster and cheaper.",
                "In {trade}, the {name} process refers to a way of treating {material} with heat and steam.",
                "The {name} process was one of several {adj} techniques that transformed {trade} in {region}.",
            ],
            [
                "{founder} first tested the idea in a workshop at {place} in {year}.",
                "The original patent, granted in {year}, described a drum of {material} turned by a water wheel.",
                "Early trials failed because the {material} cracked above {n_mid}0 degrees, a problem solved in {year}.",
                "{founder} sold the rights to a firm in {place2}, which built {n_small} machines within a year.",
                "A rival workshop in {place} claimed to have used a similar method since {year}, leading to a lawsuit.",
                "The first commercial plant opened in {place} in {year}, financed by a loan of {big} crowns.",
            ],
            [
                "The process works in {n_small} stages: soaking, pressing, slow heating and a final rinse.",
                "Compared with older methods it used {pct} percent less fuel and needed fewer workers.",
                "A typical plant could treat {big} kilograms of material a week by {year}.",
                "Careful control of temperature was essential, and workers learned to judge it by the {colour} glow.",
                "The finished product was lighter and more durable, and could be dyed {colour} without fading.",
                "Accidents were common in early plants; in {year} a boiler exploded in {place}, injuring {n_small} workers.",
                "Water for the process came from the {river}, which was badly polluted downstream by {year}.",
            ],
            [
                "By {year} the {name} process had spread to {n_mid} workshops across {region}.",
                "The method declined after {year}, when electric furnaces made it uneconomic.",
                "A working replica can be seen at the museum of {trade} in {place}.",
                "Historians regard the process as a key step in the industrial growth of {region}.",
                "Patents for improved versions were filed in {country2} in {year} and again in {year2}.",
                "Small craft workshops in {place2} still use a hand-operated version of the process.",
                "The process is mentioned in the memoirs of {person}, who worked as an apprentice at the first plant.",
            ],
        ],
    },
    "festival": {
        "title": "{name} Festival",
        "noun": "the festival",
        "sections": [
            [
                "The {name} Festival is an annual celebration held in {place} each {month}.",
                "The {name} Festival is a {adj} folk festival of {region}, first held in {year}.",
                "Every {month}, the {name} Festival brings about {big} visitors to the streets of {place}.",
                "The {name} Festival marks the end of the {crop} harvest in {region} and lasts {n_small} days.",
            ],
            [
                "The festival began as a harvest feast for the {crop} growers of {region}.",
                "According to local tradition, {founder} organised the first procession in {year}.",
                "The festival was suspended between {year} and {year2}, and revived by a committee of {n_mid} volunteers.",
                "Older records from {year} describe dancers in {colour} costumes and a contest of {trade}.",
                "In {year} the church authorities tried to ban the festival, calling its masks {adj} and improper.",
                "The modern form of the festival dates from {year}, when a railway brought the first outside visitors.",
            ],
            [
                "The programme lasts {n_small} days and opens with a parade from the {building} to the river.",
                "Bands playing the {instrument} and the {instrument2} compete for a prize awarded since {year}.",
                "Stalls sell bread baked with {crop}, smoked sausages and a sweet drink made from {crop2}.",
                "The final evening ends with lanterns floated on the {river}, a custom introduced in {year}.",
                "Children take part in a race carrying baskets of {crop}, and the winner is crowned with {colour} ribbons.",
                "A mock trial of a straw figure, held on the second day, pokes fun at the local council.",
                "Since {year} the programme has included a market for {trade} with makers from across {country}.",
            ],
            [
                "The festival is run by a foundation based in {place}, with a budget of {big} crowns.",
                "In {year} the festival was added to the national register of living traditions of {country}.",
                "Local businesses estimate that the festival brings {pct} percent of their yearly income.",
                "Critics have complained about noise and litter, and the council limited the music to {n_small} stages in {year}.",
                "Attendance fell to {big} in {year} after heavy rain, the lowest figure on record.",
                "The festival poster is designed each year by a different artist; the {year} design by {person} is the best known.",
                "Similar festivals are held in {place2} and {place}, but they began much later.",
            ],
        ],
    },
}

#: Sentences any article may end with, phrased so they fit every topic type.
ENCYCLOPEDIA_GENERIC = [
    "A detailed account of {noun} appears in a survey of {region} published in {year}.",
    "Local historians in {place} have written {n_small} books touching on {noun} since {year}.",
    "Photographs taken by {person} in {year} are kept in the archive of {institution}.",
    "An exhibition about {noun} was shown at the museum in {place} in {year}.",
    "Several place names in {region} refer to {noun}, although the link is disputed.",
    "Not all sources agree on the dates given here; the older chronicles of {place} differ by {n_small} years.",
    "A documentary about {noun}, filmed by {person}, was broadcast in {country} in {year}.",
    "Much of what is known comes from the diaries of {person}, a teacher in {place} around {year}.",
    "Maps drawn in {year} show {noun} under a slightly different name.",
    "Research at {institution} since {year} has revised several older assumptions about {noun}.",
    "Visitors can find more information at the regional museum of {region} in {place}.",
    "A monograph of {n_mid}0 pages on {noun} by {person} appeared in {year}.",
    "{noun_cap} features in a set of postage stamps issued by {country} in {year}.",
    "The regional archive in {place2} holds {n_mid} files of correspondence concerning {noun}.",
]

ENCYCLOPEDIA_GROUPS = ["beetle", "frog", "moth", "newt", "snail", "lizard", "warbler", "shrew"]
COMMON_PREFIXES = ["mountain", "marsh", "lesser", "spotted", "pale", "crested", "dwarf", "golden"]
LATIN_GENERA = [
    "Velaria", "Orthomys", "Calderia", "Pseudonella", "Brachytis", "Mirastra", "Lunaria",
    "Thelopsis", "Corvidella", "Ancylia",
]
LATIN_EPITHETS = [
    "montana", "palustris", "minor", "maculata", "pallida", "cristata", "nana", "aurea",
    "borealis", "silvestris", "rivalis", "orientalis",
]

# --- web pages (English) -------------------------------------------------------------
# Genre -> (title templates, body templates). A page picks a title and 4-12 sentences.

WEB_GENRES: dict[str, tuple[list[str], list[str]]] = {
    "travel": (
        [
            "{n_small} things to do in {place} this {season}",
            "A long weekend in {place}: our honest guide",
            "Walking the old towpath from {place} to {place2}",
        ],
        [
            "We arrived in {place} on a {adj} {weekday} morning and went straight to the market.",
            "The walk from the station to the {building} takes about {n_mid} minutes if you follow the river.",
            "Most guesthouses in {place} charge around {n_mid} euros a night outside the summer months.",
            "If you only have one day, skip the museum and climb the hill behind the {building} instead.",
            "Try the {crop} pie at the bakery next to the square; it sells out before noon on weekends.",
            "Buses to {place2} leave every {n_mid} minutes, but the last one departs before {hour} in the evening.",
            "We spotted a {animal} near the old mill, which the locals told us is quite rare there.",
            "Bring good shoes, because the cobbles in the old quarter are uneven and slippery after rain.",
            "The tourist office lends out bicycles for free if you leave an ID card as a deposit.",
            "In {month} the hills are covered in {colour} heather and the paths are much quieter.",
            "Our favourite dinner was at a small inn by the harbour that serves fish from the {river}.",
            "Honestly, {place} is not glamorous, but it is friendly, cheap and easy to reach.",
            "The ferry to the islands runs only on {weekday}s outside the high season, so plan ahead.",
            "A {adj} little chapel stands above {place}, and the key is kept at the farm below it.",
            "We paid {n_mid} euros for a guided tour of the {building}, which was worth every cent.",
            "Parking near the harbour costs {n_small} euros a day; the car park by the school is free.",
            "The local {crop} brandy is strong, so go easy if you are driving the next morning.",
            "On our second day it rained, and we spent hours in a café watching the boats come in.",
            "From the top of the old tower you can see as far as {place2} on a clear day.",
            "The campsite by the lake was full of families from {country}, all very friendly.",
        ],
    ),
    "recipe": (
        [
            "Easy {crop} and lentil soup for cold evenings",
            "My grandmother's {crop} cake, finally written down",
            "One-pan {crop} bake in {n_mid} minutes",
        ],
        [
            "Start by washing {n_small} handfuls of {crop} and cutting them into even pieces.",
            "Warm two spoons of oil in a heavy pan and fry one chopped onion until soft.",
            "Add the {crop} together with a pinch of salt, a bay leaf and {n_small} cups of stock.",
            "Let everything simmer gently for {n_mid} minutes, stirring now and then.",
            "If the mixture looks too thick, add a splash of water; it should pour slowly.",
            "Bake at {n_mid}0 degrees until the top turns {colour} and the edges pull away from the tin.",
            "Leftovers keep for {n_small} days in the fridge and taste even better the next day.",
            "You can swap the {crop} for {crop2} if that is what your market has this week.",
            "Serve it with dark bread and a spoon of yoghurt, or with a simple green salad.",
            "My grandmother always added a little grated nutmeg at the very end, and so do I.",
            "Toast {n_small} spoons of seeds in a dry pan until they smell nutty, then set them aside.",
            "Whisk {n_small} eggs with a cup of milk and pour the mixture evenly over the vegetables.",
            "The dough should feel soft and slightly sticky; resist the urge to add more flour.",
            "A squeeze of lemon just before serving lifts the whole dish.",
            "I buy my {crop} from a farmer near {place} who grows them without sprays.",
            "Cover the pot with a lid for the last {n_mid} minutes so nothing dries out.",
            "For a vegan version, replace the butter with olive oil and leave out the cheese.",
            "This amount feeds {n_small} hungry people, or {n_mid} if there is a big dessert.",
        ],
    ),
    "howto": (
        [
            "How to fix a dripping tap in {n_small} steps",
            "A beginner's guide to repotting houseplants",
            "How to sharpen a kitchen knife without special tools",
            "Setting up a rain barrel: what I learned",
        ],
        [
            "First, turn off the water supply and open the tap to drain what is left in the pipe.",
            "You will need a flat screwdriver, an adjustable spanner and a new washer of the right size.",
            "Unscrew the handle slowly and keep the small parts in a cup so nothing gets lost.",
            "Choose a pot that is only {n_small} centimetres wider than the old one, not more.",
            "Loosen the roots gently with your fingers and shake off the old, tired soil.",
            "Hold the blade at a shallow angle of about {n_teen} degrees and draw it across the stone.",
            "Repeat the stroke {n_mid} times on each side, then test the edge on a sheet of paper.",
            "Place the barrel on a firm, level base, such as paving slabs or a sturdy wooden frame.",
            "Fit a fine mesh over the inlet so that leaves and mosquitoes stay out.",
            "If the problem comes back after a few weeks, the valve seat itself may be worn.",
            "Take your time: rushing is how most small repairs turn into expensive ones.",
            "When in doubt, take a photo before you take something apart, so you know how it goes back.",
            "Wear gloves and eye protection; old fittings can snap without warning.",
            "A cheap digital multimeter, around {n_mid} euros, is enough for most jobs around the house.",
            "Let the filler dry for {n_small} hours before sanding, even if the tin says less.",
            "Label every wire with a bit of tape before you disconnect it.",
            "Buy one spare of every small part; they cost little and save a second trip.",
            "If water still seeps out, wrap {n_small} turns of sealing tape around the thread.",
            "Water the plant the day before repotting so the root ball slides out easily.",
            "Most hardware shops in {place} will cut timber to size if you bring measurements.",
        ],
    ),
    "review": (
        [
            "Review: the {product} after {n_small} months of daily use",
            "Is the {product} worth the money?",
            "{product} vs. its predecessor: a hands-on comparison",
        ],
        [
            "I bought the {product} in {month} after my old one stopped working.",
            "Out of the box it feels solid, with a {colour} casing and a surprisingly heavy base.",
            "Setup took about {n_mid} minutes, most of which was spent reading the small manual.",
            "Battery life is good: I charge it roughly every {n_small} days with normal use.",
            "The only real weakness is the fan, which gets noisy under heavy load.",
            "At {n_mid}9 euros it is not cheap, but it costs less than most of its rivals.",
            "Customer support answered my question within {n_small} days and was genuinely helpful.",
            "After {n_small} months there are a few scratches, but nothing has broken or come loose.",
            "If you need something portable, look elsewhere; this is made to stay on a desk.",
            "Overall I would give it {n_small} out of ten and would buy it again.",
            "The app asks for far too many permissions, which I switched off straight away.",
            "Compared with my old model it is {pct} percent lighter, which you notice every day.",
            "Firmware updates arrive every {n_small} weeks or so and have fixed several small bugs.",
            "The cable is annoyingly short, so I ordered a longer one for {n_mid} euros.",
            "Build quality is better than the price suggests, especially the {colour} aluminium lid.",
            "Noise is about {n_mid} decibels at full speed, quieter than my fridge.",
            "Returns are free for {n_mid} days, which made the decision easier.",
            "My partner, who hates gadgets, now uses it more than I do.",
        ],
    ),
    "news": (
        [
            "{place} council approves new cycle lanes",
            "Flood defences on the {river} to be strengthened",
            "Local school in {place} wins regional science prize",
            "New ferry link between {place} and {place2} starts in {month}",
        ],
        [
            "The council of {place} voted on {weekday} to approve a plan costing {big} euros.",
            "Work is expected to begin in {month} and take about {n_small} months.",
            "Residents had asked for the change for years, the deputy mayor told reporters.",
            "Opponents argued that the money would be better spent on repairing existing roads.",
            "The project is partly funded by a regional grant awarded in {year}.",
            "A public meeting will be held at the {building} for anyone with questions.",
            "Pupils from {place2} presented a study of the {animal} population along the {river}.",
            "The new service will run {n_small} times a day and carry up to {n_mid}0 passengers.",
            "Local shop owners said they hope the change will bring more visitors to the centre.",
            "A spokesperson for the water authority said the old embankments date from {year}.",
            "Police closed the road near the {building} for {n_small} hours after a lorry lost its load.",
            "The winning team, led by teacher {person}, will travel to {place2} for the national final.",
            "Tickets cost {n_small} euros for adults, and children under twelve travel free.",
            "According to the latest figures, {pct} percent of households now sort their waste.",
            "The mayor, {person}, said the decision was difficult but necessary.",
            "Several trees along the riverbank will be replaced with native species such as alder.",
            "Volunteers collected {n_mid} bags of litter along the {river} last {weekday}.",
            "The library will reopen in {month} after a renovation that took {n_small} months.",
        ],
    ),
    "blog": (
        [
            "What a year of learning the {instrument} taught me",
            "Notes from my allotment, {month} edition",
            "Why I finally started keeping a paper diary",
        ],
        [
            "I never thought I would stick with it for more than a few weeks, but here we are.",
            "The first {n_small} months were mostly frustration and very sore fingers.",
            "My teacher, a retired {trade} worker from {place}, has endless patience with me.",
            "This {month} the {crop} came up early, and the slugs found them before I did.",
            "I have started writing down one small thing each evening, even on boring days.",
            "Looking back at old pages, I can see how much my mood follows the weather.",
            "If you are thinking of starting something new, my only advice is to keep it small.",
            "Next {season} I want to try growing {crop2}, although everyone says the soil here is too heavy.",
            "Thanks to everyone who left kind comments on the last post; it really helped.",
            "I will write again in a few weeks, once the {crop} harvest is in.",
            "Some evenings I only manage ten minutes, and that is fine.",
            "My neighbour {person} gave me a bag of {crop} seeds and some very strong opinions.",
            "I recorded myself playing last {weekday} and could hardly bear to listen.",
            "Writing by hand is slower, which turns out to be the whole point.",
            "The rain in {month} flattened half the beds, but the beans survived.",
            "A reader from {place} sent me a lovely letter about her own garden.",
            "I have filled {n_small} notebooks so far, mostly with lists and weather.",
            "Next month I am going to try playing with other people for the first time.",
        ],
    ),
}

#: Slot-rich sentences any English page may borrow, so pages of one genre differ more.
WEB_GENERIC = [
    "Posted by {person} from {place} on a {adj} {weekday} in {month}.",
    "Updated in {month}: a reader from {place2} pointed out a mistake, now corrected.",
    "This post was written in {place}, where it has rained for {n_small} days straight.",
    "I first heard about this from {person}, who has done it for {n_mid} years.",
    "Prices were checked in {month} and may have changed since.",
    "Thanks to {person} for the photos and to everyone in {place} who answered my questions.",
    "If you are near {place2}, the {building} there has a good small exhibition on {trade}.",
    "By the way, the {animal} we saw near the {building} made the whole trip.",
    "My cousin in {place} tried the same thing and got completely different results.",
    "Around {pct} percent of readers who answered last month's poll agreed with this.",
    "The comments from last time were full of good ideas about {crop} and {trade}.",
    "I wrote about {place} before, back in {month}, if you want the longer story.",
    "Local radio in {place2} mentioned this on {weekday}, which is how I found out.",
    "{n_small} readers asked about {trade}; that will be the next post.",
    "Everything here is my own opinion; nobody paid me to write it.",
    "Feel free to share this with friends in {place} or {place2}.",
    "The photos were taken with an old phone, so excuse the quality.",
    "Back in {year} the whole street still smelled of {trade}, or so my grandfather says.",
    "A {adj} evening walk along the {river} is the best way to end the day.",
    "My friend {person} thinks I am exaggerating; judge for yourself.",
]

PRODUCT_BRANDS = ["Kelvo", "Tamble", "Nordvik", "Orla", "Brisk", "Quill", "Harlan", "Sorrel",
                  "Fjell", "Lumo", "Vesta", "Tarn"]
PRODUCT_MODELS = ["X", "S", "Pro ", "Mini ", "", "Air "]
PRODUCT_KINDS = [
    "router", "desk lamp", "blender", "e-reader", "headphones", "keyboard", "air purifier",
    "coffee grinder", "trail watch", "projector", "kettle", "baby monitor", "robot vacuum",
]
SEASONS = ["spring", "summer", "autumn", "winter"]
WEBSITES = [
    "wanderlog", "kitchen-notes", "fixitguide", "gadgetbench", "valleygazette", "slowdays",
    "pathfinder-blog", "homecraft", "dailyharbour", "greenplot",
]

# --- forum posts -----------------------------------------------------------------

FORUM_TOPICS: dict[str, list[str]] = {
    "gardening": [
        "My {crop} seedlings keep falling over after a week, is it too much water?",
        "I switched to a no-dig bed last {season} and the soil is much better already.",
        "Has anyone grown {crop} in pots on a north-facing balcony?",
        "Comfrey tea worked wonders on my tomatoes, but it smells terrible.",
        "Slugs ate half my lettuce again, copper tape did nothing for me.",
        "I put a small pond in last year and now we have frogs and a visiting {animal}.",
    ],
    "cycling": [
        "What tyre pressure do you run for gravel with a load of about {n_mid} kilos?",
        "My chain keeps skipping on the smallest cog even after a new cassette.",
        "Did the ride from {place} to {place2} last {weekday}, the headwind was brutal.",
        "Is it worth paying extra for hydraulic disc brakes on a commuter bike?",
        "Finally fixed the creak in my bottom bracket, it was the pedals all along.",
        "Anyone know if the cycle path along the {river} is open again after the flood?",
    ],
    "homerepair": [
        "There is a crack above the door frame that came back after I filled it twice.",
        "Which sealant do you use around a shower tray that moves slightly?",
        "Our boiler pressure drops by {n_small} bar every night and nobody can find a leak.",
        "I rewired the hallway light and now the switch feels warm, should I worry?",
        "Sanding old floorboards took me {n_small} weekends but it was worth it.",
        "Tip: put painter's tape on the wall before drilling so the plaster does not chip.",
    ],
    "photography": [
        "Is a {n_mid}mm prime a good first lens for street photos?",
        "My night shots of the harbour in {place} are always blurry, even on a tripod.",
        "I shoot mostly birds, and the {animal} by the river is my white whale.",
        "Does anyone still print their photos? I started again and love it.",
        "Edited this shot of the {building} in {place}, feedback welcome.",
        "Autofocus hunts like crazy in low light on my old body, time to upgrade?",
    ],
    "programming": [
        "My script runs fine locally but fails on the server with a permission error.",
        "Why does my loop get slower the longer the list gets? Is append expensive?",
        "Is it bad practice to catch every exception and just log it?",
        "I rewrote our build from a shell script to a Makefile and it is {n_small} times faster.",
        "Which is better for {n_mid} million rows, a database or plain files?",
        "Unit tests caught a bug today that would have cost us a week, feeling smug.",
    ],
    "cooking": [
        "My sourdough starter smells like nail polish, did I kill it?",
        "What is the secret to crispy roast potatoes? Mine always go soft.",
        "Made a {crop} chutney with the last of the harvest, recipe below if anyone wants it.",
        "How long can cooked rice really stay in the fridge?",
        "Cast iron pan rusted after the dishwasher, can it be saved?",
        "Tried the bakery in {place} everyone talks about, the rye bread is as good as they say.",
    ],
}

FORUM_REPLIES = [
    "Same problem here, following this thread.",
    "In my experience it usually comes down to patience more than equipment.",
    "I had exactly this last {season}; what fixed it was doing less, not more.",
    "Have you checked the obvious things first? It is often the simplest cause.",
    "Thanks, this saved me a trip to the shop.",
    "I disagree a bit, but it depends a lot on where you live.",
    "Post a photo and people here can probably tell you more.",
    "My neighbour in {place} swears by the old method and honestly it works.",
    "Took me {n_small} attempts to get it right, do not give up.",
    "Good question, I never thought about it that way.",
    "Update: tried it yesterday and it worked, thank you all.",
    "Be careful with that advice, it can make things worse if done wrong.",
]

FORUM_HANDLES = [
    "greenthumb", "pedalpusher", "dustydrill", "f8andbethere", "nullpointer", "ryebaker",
    "riverwalker", "quietcoder", "muddyboots", "slowshutter", "leakyboiler", "breadhead",
]

# --- sensitive but legitimate pages --------------------------------------------------
# Health and safety information that uses alarming words; a toxicity filter must keep it.

SENSITIVE_LEGIT = [
    (
        "breast_cancer_screening",
        "Breast cancer screening: what to expect\n\n"
        "Breast cancer screening uses a low-dose X-ray called a mammogram to find changes "
        "before they can be felt. In {region}, women aged 50 to 70 are invited every two "
        "years, and the appointment takes about {n_mid} minutes. Most results are normal. "
        "If you are called back, it does not mean you have cancer: many recalls turn out "
        "to be harmless cysts. Tell the radiographer if you have breast implants or have "
        "noticed a lump, nipple discharge or skin changes. You can ask your doctor about "
        "screening at any age if breast or ovarian cancer runs in your family.",
    ),
    (
        "suicide_prevention",
        "Suicide prevention: how to help someone in crisis\n\n"
        "If someone tells you they are thinking about suicide, take them seriously and "
        "stay with them. Ask directly whether they have thought about how they would kill "
        "themselves; asking does not put the idea in their head. Remove anything they "
        "could use to harm themselves if it is safe to do so. Call the suicide prevention "
        "hotline of {region} or the emergency number together with them. Listen without "
        "judging, and help them make a plan for the next {n_small} days. Recovery is "
        "possible, and most people who survive a suicidal crisis go on to live full lives.",
    ),
    (
        "sexual_health",
        "Sexual health clinic: testing and contraception\n\n"
        "Our clinic in {place} offers free and confidential testing for sexually "
        "transmitted infections, including chlamydia, gonorrhoea, syphilis and HIV. You "
        "do not need a referral. Condoms are the only contraception that also protects "
        "against infections. Many infections cause no symptoms, so regular testing is "
        "recommended for anyone with a new sexual partner. Results are usually ready "
        "within {n_small} days and are sent by text message. Staff will never judge you "
        "for your sexual history.",
    ),
    (
        "overdose_first_aid",
        "First aid for a suspected drug overdose\n\n"
        "Signs of an opioid overdose include pinpoint pupils, blue lips, slow or stopped "
        "breathing and no response to your voice. Call the emergency number at once. If "
        "you have naloxone, spray one dose into a nostril and repeat after {n_small} "
        "minutes if there is no change. Put the person in the recovery position and stay "
        "with them until help arrives. Laws in {country} protect people who call for help "
        "during an overdose from being charged for drug possession.",
    ),
    (
        "self_harm_support",
        "Supporting a teenager who self-harms\n\n"
        "Self-harm, such as cutting or burning the skin, is usually a way of coping with "
        "overwhelming feelings rather than a suicide attempt, but it must always be taken "
        "seriously. Stay calm and avoid showing anger or shock. Make sure wounds are "
        "cleaned and, if deep, seen by a nurse. Encourage your child to talk to their "
        "doctor or the school counsellor. Support groups in {place} meet every {weekday} "
        "evening for parents going through the same thing.",
    ),
    (
        "domestic_violence_help",
        "Help for people experiencing domestic abuse\n\n"
        "Domestic abuse includes physical violence, threats, sexual violence and "
        "controlling behaviour by a partner or family member. If you are in danger now, "
        "call the police. The free helpline for {region} is open day and night and can "
        "arrange a safe place to stay. Keep a record of incidents, including dates and "
        "photos of injuries, in a place your abuser cannot reach. Leaving is the most "
        "dangerous time, so advisers will help you plan it step by step.",
    ),
]

# --- low-quality pages ---------------------------------------------------------------

NAV_ITEMS = [
    "Home", "About us", "Products", "Services", "Blog", "News", "Contact", "Careers",
    "FAQ", "Login", "Register", "Cart", "Shop", "Support", "Privacy", "Terms", "Sitemap",
    "Press", "Partners", "Gift cards", "Store locator", "Newsletter",
]

COOKIE_LINES = [
    "We use cookies to improve your experience on our website.",
    "By clicking Accept all, you agree to the storing of cookies on your device.",
    "Some cookies are essential, others help us analyse traffic and personalise ads.",
    "You can change your cookie preferences at any time in the settings.",
    "Accept all | Reject non-essential | Manage preferences",
    "Read our cookie policy and privacy notice for more information.",
    "This site uses cookies. Continuing to browse means you accept our use of cookies.",
    "Strictly necessary cookies cannot be switched off.",
    "Analytics cookies help us count visits and see which pages are popular.",
    "Marketing cookies may be set by our advertising partners.",
    "Your choice is saved for 12 months.",
    "Save settings",
    "We value your privacy.",
    "Withdraw consent at any time via the link in the footer.",
]

SPAM_KEYWORDS = [
    "cheap", "best price", "discount", "buy now", "free shipping", "sale", "online",
    "top deals", "lowest price", "order today", "guaranteed", "limited offer",
]

LOREM_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
    "exercitation ullamco laboris nisi aliquip ex ea commodo consequat"
).split()

SHORT_PAGES = [
    "Page not found.",
    "Coming soon!",
    "Loading...",
    "Click here to continue.",
    "Access denied. Please log in.",
    "This page has moved.",
    "Thank you for your order.",
    "Under construction",
]

REPEATED_LINES = [
    "Subscribe to our newsletter for the latest updates!",
    "Share on social media",
    "Click here to read more",
    "Sponsored content",
    "Related posts",
]

# --- toxic lines -----------------------------------------------------------------------
# Mild, obviously invented abuse: enough for a classifier to fire, no slurs, no real
# targets. Category names follow the usual insult / threat / harassment split.

TOXIC_LINES: dict[str, list[str]] = {
    "insult": [
        "You are a brainless clown and everyone on this board laughs at your posts.",
        "Only a total idiot would write something this stupid, go away.",
        "What a pathetic loser, your opinion is worthless garbage.",
        "Shut up, you ignorant fool, nobody asked for your dumb advice.",
        "You are the most useless moron I have ever had the misfortune to read.",
    ],
    "threat": [
        "Keep posting this and I will find out where you live and make you regret it.",
        "Say that again and I swear I will come round and smash your stupid face in.",
        "People like you deserve a beating, and one day somebody will give you one.",
    ],
    "harassment": [
        "Everyone should report this idiot until they are banned, they are a disgusting creep.",
        "Nobody wants you here, you worthless creep, crawl back under your rock.",
        "I am going to follow you around every thread until you quit, you miserable clown.",
    ],
}

# --- technical docs (docs-text) ----------------------------------------------------------
# An invented command-line tool, "tessel", that syncs folders of data files.

TOOL = "tessel"
DOC_COMMANDS = ["init", "sync", "status", "prune", "verify", "push", "pull", "diff", "lock"]
DOC_OPTIONS = [
    ("--workers", "N", "number of parallel workers", "4"),
    ("--dry-run", "", "print what would change without changing anything", "off"),
    ("--remote", "NAME", "name of the remote to talk to", "origin"),
    ("--include", "GLOB", "only consider paths matching the pattern", "all files"),
    ("--exclude", "GLOB", "skip paths matching the pattern", "none"),
    ("--timeout", "SECONDS", "give up on a request after this long", "30"),
    ("--checksum", "ALGO", "hash used to compare files", "blake2b"),
    ("--verbose", "", "log every file that is read or written", "off"),
    ("--max-size", "BYTES", "refuse files larger than this", "2147483648"),
    ("--retries", "N", "how often to retry a failed transfer", "3"),
]
DOC_CONFIG_KEYS = [
    ("cache_dir", "where downloaded chunks are kept", "~/.cache/tessel"),
    ("chunk_size", "size of the pieces files are split into", "4 MiB"),
    ("compression", "codec used for stored chunks", "zstd"),
    ("log_level", "how much to log", "info"),
    ("lock_timeout", "seconds to wait for another process to release the lock", "60"),
    ("remote.url", "address of the default remote", "none"),
    ("remote.region", "region of an object store remote", "none"),
    ("verify_on_pull", "re-hash every pulled file", "true"),
]
DOC_SENTENCES = [
    "`tessel {cmd}` reads the project file in the current folder and exits with status 0 on success.",
    "If another process holds the lock, `tessel {cmd}` waits up to `lock_timeout` seconds and then fails.",
    "Use `{opt}` to change this behaviour; the default is {default}.",
    "The command never deletes files outside the project folder, even when paths are symbolic links.",
    "Large folders are processed in batches of {n_mid}0 files so that memory use stays flat.",
    "Exit status 3 means that at least one file failed verification; the log lists which.",
    "On Windows, paths are stored with forward slashes so projects can be shared between systems.",
    "Network errors are retried with exponential backoff, starting at {n_small} seconds.",
    "Since version {version}, `tessel {cmd}` also accepts a list of paths on standard input.",
    "The summary line at the end reports files scanned, changed and skipped, in that order.",
]
DOC_TROUBLE = [
    ("`tessel {cmd}` hangs at 'waiting for lock'",
     "Another tessel process is still running, or crashed and left a stale lock file. "
     "Check for running processes, then remove `.tessel/lock` if none is found."),
    ("Checksums differ after copying from a network drive",
     "Some network file systems report sizes before the copy is complete. Run "
     "`tessel verify` again once the copy has finished, or pass `--retries {n_small}`."),
    ("Permission denied when writing to the cache",
     "The cache folder belongs to another user. Set `cache_dir` in the configuration to a "
     "folder you own, or fix its permissions."),
    ("Sync is slow with many small files",
     "Each file costs at least one request. Raise `--workers` to {n_small}, or pack the "
     "small files into an archive before syncing."),
    ("`tessel push` reports 'remote not found'",
     "The remote name is misspelled or missing from the configuration. Run `tessel status` "
     "to list configured remotes."),
]
