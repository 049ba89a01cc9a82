"""Hand-written banks for instruction, preference and evaluation records.

Evaluation wording is kept apart from every other bank, so that a 13-gram shared with
an exam item only appears where the generator planted one on purpose.
"""

from __future__ import annotations

# --- evaluation items: (subject, question template); answers are computed in evalset.py

EVAL_TEMPLATES: dict[str, tuple[str, str]] = {
    "barge": (
        "physics",
        "A {vessel} leaves the harbour of {place} and travels downstream at a steady {v} "
        "kilometres per hour. How many hours does the {vessel} need to reach the lock "
        "at {place2}, which lies {d} kilometres further along the river?",
    ),
    "census": (
        "arithmetic",
        "In the {year} census, the village of {place} recorded {n} inhabitants. Over the "
        "following decade its population grew by {pct} percent. Approximately how many "
        "people lived in {place} at the next count?",
    ),
    "heat": (
        "physics",
        "A student in {place} heats {m} grams of water from {t1} to {t2} degrees Celsius. "
        "Taking the specific heat capacity of water as 4.2 joules per gram per degree, "
        "how much energy, in joules, does the water in the {vessel2} absorb?",
    ),
    "fence": (
        "geometry",
        "The rectangular garden behind the {building} in {place} measures {a} metres by "
        "{b} metres. The gardeners will fence all four sides but leave a gate {g} metres "
        "wide. How many metres of fencing do they need for the {building}?",
    ),
    "marbles": (
        "probability",
        "A cloth bag holds {r} red, {g} green and {b} blue marbles that feel identical. "
        "{person} draws one marble without looking. What is the probability that the "
        "marble {person} draws is not green?",
    ),
    "interest": (
        "finance",
        "{person} deposits {amount} crowns in a savings account at a bank in {place} that "
        "pays {r} percent simple interest per year. How much interest has the account "
        "earned after {n} years, assuming {person} makes no withdrawals?",
    ),
    "mean": (
        "statistics",
        "Over five days in {month}, a weather station near {place} recorded maximum "
        "temperatures of {t1}, {t2}, {t3}, {t4} and {t5} degrees Celsius. What was the "
        "mean maximum temperature at {place} over those five days?",
    ),
    "ages": (
        "logic",
        "{a} is older than {b}, and {b} is older than {c}. {d} is younger than {c} but "
        "older than {e}. If the five members of the chess club in {place} line up from "
        "oldest to youngest, who stands in the middle?",
    ),
    "flour": (
        "arithmetic",
        "A bakery in {place} uses {f} grams of flour to bake {k} loaves of {crop} bread. "
        "Keeping the same recipe, how many grams of flour does the bakery need to bake "
        "{k2} loaves for the {month} market in {place}?",
    ),
    "tank": (
        "arithmetic",
        "A water tank at the {building} of {place} holds {v} litres. One pump fills it "
        "at {r1} litres per minute while a leak drains {r2} litres per minute. Starting "
        "from empty, how many minutes does it take to fill the tank?",
    ),
    "map": (
        "geography",
        "On a map of {region} drawn at a scale of 1 to {s}, the road from {place} to "
        "{place2} measures {c} centimetres. Assuming the road is straight, how long is "
        "the real road between {place} and {place2}, in kilometres?",
    ),
}

VESSELS = ["cargo barge", "river ferry", "tugboat", "flat-bottomed punt", "canal boat"]
CONTAINERS = ["glass beaker", "steel pot", "copper kettle", "clay jug", "enamel pan"]

# --- instructions -------------------------------------------------------------------

EXPLANATIONS: dict[str, str] = {
    "why the sky is blue": (
        "Sunlight is made of many colours. When it passes through the air, the tiny gas "
        "particles scatter blue light much more than red light, so blue light reaches "
        "your eyes from every part of the sky. At sunset the light travels through more "
        "air, the blue is scattered away, and the sky turns orange and red."
    ),
    "why bread rises": (
        "Bread dough contains yeast, which is a tiny living fungus. The yeast eats sugar "
        "in the flour and gives off carbon dioxide gas. The gas gets trapped in the "
        "stretchy gluten in the dough, like air in a balloon, so the dough puffs up."
    ),
    "how a bicycle stays upright": (
        "A moving bicycle stays up mostly because the rider keeps steering into the "
        "direction it starts to fall. The shape of the front fork also helps the wheel "
        "turn by itself into a lean. That is why it is easy to balance when you ride and "
        "hard when you stand still."
    ),
    "why we have seasons": (
        "The Earth is tilted. As it travels around the Sun, first one half and then the "
        "other leans towards the Sun. The half that leans towards it gets more direct "
        "sunlight and longer days, so it has summer, while the other half has winter."
    ),
    "how vaccines work": (
        "A vaccine shows your immune system a harmless piece or a weakened form of a germ. "
        "Your body learns to recognise it and makes antibodies and memory cells. If the "
        "real germ arrives later, your body can fight it off quickly before you get ill."
    ),
    "why ice floats": (
        "When water freezes, its molecules line up in a pattern with more space between "
        "them than in liquid water. That makes ice a little less dense than water, so it "
        "floats, which is also why lakes freeze from the top down."
    ),
    "how a rainbow forms": (
        "A rainbow appears when sunlight shines into raindrops. Each drop bends the light, "
        "reflects it off its back and bends it again on the way out. Different colours "
        "bend by different amounts, so the white light spreads into a band of colours."
    ),
    "why leaves change colour in autumn": (
        "Leaves are green because of chlorophyll, which the tree uses to make food from "
        "sunlight. In autumn the tree stops making chlorophyll, the green fades, and "
        "yellow and orange pigments that were there all along become visible."
    ),
}

TIPS: dict[str, list[str]] = {
    "saving energy at home": [
        "Turn the heating down by one degree; you will hardly notice it.",
        "Switch devices off at the plug instead of leaving them on standby.",
        "Wash clothes at 30 degrees and dry them on a line when you can.",
    ],
    "learning a new language": [
        "Practise a little every day rather than a lot once a week.",
        "Listen to podcasts or radio in the language while you cook or walk.",
        "Find a conversation partner early, even if you make many mistakes.",
    ],
    "getting better sleep": [
        "Go to bed and get up at the same time every day, weekends included.",
        "Keep the bedroom cool, dark and free of screens.",
        "Avoid coffee after lunch and heavy meals late in the evening.",
    ],
    "keeping houseplants alive": [
        "Check the soil with a finger before watering instead of following a fixed schedule.",
        "Put plants where they get the light their species needs.",
        "Use pots with drainage holes so roots never sit in water.",
    ],
    "preparing for a job interview": [
        "Read about the company and think of two questions to ask them.",
        "Practise short answers about your past work, with concrete examples.",
        "Plan the journey and arrive ten minutes early.",
    ],
    "running your first 5 km": [
        "Alternate running and walking at first, and add running time each week.",
        "Buy comfortable shoes that fit well rather than the most expensive pair.",
        "Rest at least one day between runs so your body can adapt.",
    ],
}

REWRITES: list[tuple[str, str]] = [
    ("hey, can u send me the report asap?",
     "Could you please send me the report at your earliest convenience?"),
    ("the meeting got moved, no idea why lol",
     "The meeting has been rescheduled; the reason has not been communicated."),
    ("we messed up the order, sorry about that",
     "We apologise for the error in processing your order."),
    ("gonna be late, traffic is crazy",
     "I will be arriving late due to heavy traffic."),
    ("thx for the help yesterday, really saved me",
     "Thank you for your assistance yesterday; it was extremely helpful."),
    ("pls fix the printer on floor 2, it's broken again",
     "Could the printer on the second floor please be repaired? It is out of order again."),
]

REVIEWS: list[tuple[str, str]] = [
    ("The soup was cold, the waiter ignored us and the bill was wrong.", "negative"),
    ("Lovely little hotel, spotless rooms and the staff could not have been kinder.",
     "positive"),
    ("The book started slowly but the last hundred pages were brilliant.", "positive"),
    ("Broke after two days and the shop refused to take it back.", "negative"),
    ("Comfortable shoes, I walked all day without a single blister.", "positive"),
    ("Far too loud, the fan sounds like a small aeroplane.", "negative"),
]

TRIVIAL_RESPONSES = ["OK.", "Sure.", "Yes.", "Done.", "I see.", "Thanks!"]

#: Evasive or unhelpful answers used as the rejected side of preference pairs.
UNHELPFUL = [
    "I don't know, look it up yourself.",
    "That is not something I can help with.",
    "It depends.",
    "Maybe. Hard to say really.",
    "Good question! There are many opinions on this topic.",
]
