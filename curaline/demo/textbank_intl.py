# ruff: noqa: E501
# (sentence banks: one template per line reads better than strings split mid-phrase)
"""Hand-written sentence banks in German, French, Spanish, Italian, Dutch, Portuguese.

Web pages in de/fr/es are declared by the web-crawl manifest; it/nl/pt pages are not,
so the language stage must drop them. Written for curaline, not taken from a dataset.
"""

from __future__ import annotations

MONTHS_BY_LANG: dict[str, list[str]] = {
    "de": ["Januar", "März", "Mai", "Juli", "September", "November"],
    "fr": ["janvier", "mars", "mai", "juillet", "septembre", "novembre"],
    "es": ["enero", "marzo", "mayo", "julio", "septiembre", "noviembre"],
    "it": ["gennaio", "marzo", "maggio", "luglio", "settembre", "novembre"],
    "nl": ["januari", "maart", "mei", "juli", "september", "november"],
    "pt": ["janeiro", "março", "maio", "julho", "setembro", "novembro"],
}

WEEKDAYS_BY_LANG: dict[str, list[str]] = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado"],
    "it": ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"],
    "nl": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"],
    "pt": ["segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira"],
}

#: lang -> (title templates, body sentence templates)
WEB_INTL: dict[str, tuple[list[str], list[str]]] = {
    "de": (
        [
            "Ein Wochenende in {place}: unsere Tipps",
            "Neuer Radweg zwischen {place} und {place2} eröffnet",
            "Rezept: Kartoffelsuppe wie bei Oma",
        ],
        [
            "Am {weekday} öffnet der Wochenmarkt in {place} schon um sieben Uhr morgens.",
            "Die Altstadt ist klein, aber man sollte sich für die Gassen mindestens einen halben Tag Zeit nehmen.",
            "Der Gemeinderat hat im {month} beschlossen, {big} Euro in die Sanierung der Schule zu investieren.",
            "Viele Anwohner hatten sich seit Jahren über den starken Verkehr in der Hauptstraße beschwert.",
            "Die Bauarbeiten sollen etwa {n_small} Monate dauern und noch vor dem Winter fertig sein.",
            "Für die Suppe braucht man {n_small} große Kartoffeln, eine Zwiebel, etwas Butter und Brühe.",
            "Alles zusammen ungefähr {n_mid} Minuten köcheln lassen und zum Schluss mit Majoran würzen.",
            "Vom Bahnhof aus fährt alle {n_mid} Minuten ein Bus direkt zum Hafen.",
            "Im Museum kann man alte Werkzeuge der Fischer sehen, der Eintritt ist für Kinder frei.",
            "Wer gern wandert, sollte den Weg über die Hügel nach {place2} nehmen, die Aussicht lohnt sich.",
            "Die Bürgermeisterin sagte, man wolle die Stadt für Familien attraktiver machen.",
            "Unser Lieblingscafé liegt direkt am Marktplatz und hat den besten Apfelkuchen der Gegend.",
            "Bei Regen ist das Hallenbad eine gute Alternative, es liegt gleich neben der Bibliothek.",
            "Laut Polizei gab es im vergangenen Jahr deutlich weniger Unfälle an der Kreuzung.",
            "Die Fähre nach {place2} fährt außerhalb der Saison nur am {weekday}.",
            "Im Heimatmuseum von {place} sind noch bis {month} alte Fotografien des Hafens zu sehen.",
            "Der Sportverein feiert in diesem Jahr sein {n_mid}-jähriges Bestehen mit einem Straßenfest.",
            "Die Eintrittskarten kosten {n_small} Euro, Kinder unter zwölf Jahren zahlen nichts.",
            "Nach dem Sturm am {weekday} mussten {n_small} Bäume im Stadtpark gefällt werden.",
            "Ein Leser aus {place2} hat uns geschrieben, dass die Brücke seit Wochen gesperrt ist.",
            "Zum Nachtisch gab es Pflaumenkuchen mit Sahne, den die Wirtin selbst gebacken hatte.",
            "Die neue Buslinie verbindet {place} ab {month} stündlich mit dem Krankenhaus.",
            "Rund {n_mid} Freiwillige haben am Wochenende das Ufer des Sees vom Müll befreit.",
            "Wer mit dem Fahrrad kommt, kann es kostenlos im Hof der Schule abstellen.",
        ],
    ),
    "fr": (
        [
            "Un week-end à {place} : nos bonnes adresses",
            "La mairie de {place} présente son nouveau plan de circulation",
            "Recette : la tarte aux pommes de ma grand-mère",
        ],
        [
            "Le marché de {place} a lieu chaque {weekday} matin sur la place de l'église.",
            "Nous avons passé trois jours dans la région et nous avons été séduits par la gentillesse des habitants.",
            "Le conseil municipal a voté en {month} un budget de {big} euros pour rénover la piscine.",
            "Les travaux devraient durer environ {n_small} mois, selon le maire.",
            "Pour la pâte, il faut {n_mid}0 grammes de farine, du beurre bien froid et une pincée de sel.",
            "Faites cuire la tarte pendant {n_mid} minutes, jusqu'à ce que le dessus soit bien doré.",
            "Depuis la gare, un bus rejoint le port toutes les {n_mid} minutes.",
            "Les habitants se plaignent depuis longtemps du bruit des camions dans la rue principale.",
            "Le petit musée du village présente l'histoire des pêcheurs et de leurs bateaux.",
            "Si vous aimez la randonnée, le sentier qui mène à {place2} offre une vue magnifique.",
            "Nous avons dîné dans un restaurant familial où le poisson vient directement du port.",
            "Selon la préfecture, le nombre d'accidents a nettement baissé depuis l'an dernier.",
            "N'oubliez pas de réserver votre hébergement à l'avance pendant les vacances d'été.",
            "La bibliothèque municipale propose des ateliers gratuits pour les enfants le mercredi.",
            "Le bac pour {place2} ne circule que le {weekday} en dehors de la saison.",
            "Le musée de {place} expose jusqu'en {month} des photographies anciennes du port.",
            "Le club de football fête cette année ses {n_mid} ans avec une grande fête de quartier.",
            "L'entrée coûte {n_small} euros, et c'est gratuit pour les moins de douze ans.",
            "Après la tempête de {weekday}, {n_small} arbres du jardin public ont dû être abattus.",
            "Un lecteur de {place2} nous écrit que le pont est fermé depuis plusieurs semaines.",
            "En dessert, la patronne nous a servi un gâteau aux prunes fait maison.",
            "La nouvelle ligne de bus relie {place} à l'hôpital toutes les heures à partir de {month}.",
            "Environ {n_mid} bénévoles ont nettoyé les berges du lac ce week-end.",
            "Les cyclistes peuvent garer leur vélo gratuitement dans la cour de l'école.",
        ],
    ),
    "es": (
        [
            "Un fin de semana en {place}: qué ver y dónde comer",
            "El ayuntamiento de {place} aprueba un nuevo carril bici",
            "Receta: tortilla de patatas jugosa",
        ],
        [
            "El mercado de {place} abre cada {weekday} desde las ocho de la mañana.",
            "Pasamos tres días en el pueblo y nos encantó la tranquilidad de sus calles.",
            "El ayuntamiento aprobó en {month} una inversión de {big} euros para el polideportivo.",
            "Las obras durarán unos {n_small} meses, según explicó la alcaldesa a los vecinos.",
            "Para la tortilla necesitas {n_small} patatas medianas, cebolla, huevos y buen aceite de oliva.",
            "Deja que las patatas se hagan a fuego lento durante unos {n_mid} minutos.",
            "Desde la estación sale un autobús hacia el puerto cada {n_mid} minutos.",
            "Los vecinos llevan años quejándose del tráfico en la calle mayor.",
            "El pequeño museo del pueblo cuenta la historia de los pescadores de la zona.",
            "Si te gusta caminar, la ruta que sube hasta {place2} tiene unas vistas preciosas.",
            "Cenamos en una taberna familiar donde el pescado llega cada día del puerto.",
            "Según la policía local, los accidentes han bajado mucho desde el año pasado.",
            "Conviene reservar el alojamiento con tiempo si vas en pleno verano.",
            "La biblioteca municipal organiza talleres gratuitos para niños los sábados.",
            "El ferry a {place2} solo sale los {weekday} fuera de temporada.",
            "El museo de {place} muestra hasta {month} fotografías antiguas del puerto.",
            "El club de fútbol celebra este año su {n_mid} aniversario con una fiesta en la calle.",
            "La entrada cuesta {n_small} euros y los menores de doce años no pagan.",
            "Tras la tormenta del {weekday}, hubo que talar {n_small} árboles del parque.",
            "Un lector de {place2} nos cuenta que el puente lleva semanas cerrado.",
            "De postre, la dueña nos sirvió un bizcocho de ciruelas hecho en casa.",
            "La nueva línea de autobús une {place} con el hospital cada hora desde {month}.",
            "Unos {n_mid} voluntarios limpiaron la orilla del embalse el fin de semana.",
            "Quien venga en bicicleta puede dejarla gratis en el patio del colegio.",
        ],
    ),
    "it": (
        [
            "Un fine settimana a {place}: cosa vedere",
            "Ricetta: pasta al forno della domenica",
        ],
        [
            "Il mercato di {place} si tiene ogni {weekday} mattina nella piazza principale.",
            "Abbiamo passato tre giorni in paese e ci siamo innamorati delle sue vie strette.",
            "Il comune ha approvato a {month} un investimento di {big} euro per la scuola.",
            "I lavori dovrebbero durare circa {n_small} mesi, secondo il sindaco.",
            "Per la pasta servono {n_mid}0 grammi di maccheroni, sugo di pomodoro e molta mozzarella.",
            "Cuocete in forno per {n_mid} minuti, finché la superficie non diventa croccante.",
            "Dalla stazione parte un autobus per il porto ogni {n_mid} minuti.",
            "Gli abitanti si lamentano da anni del traffico nella strada principale.",
            "Se vi piace camminare, il sentiero che porta a {place2} offre un panorama splendido.",
            "Abbiamo cenato in una trattoria di famiglia dove il pesce arriva ogni giorno dal porto.",
        ],
    ),
    "nl": (
        [
            "Een weekend in {place}: onze tips",
            "Recept: stamppot met boerenkool",
        ],
        [
            "De markt in {place} is elke {weekday} ochtend op het plein bij de kerk.",
            "We waren drie dagen in het dorp en vonden de rust in de straatjes heerlijk.",
            "De gemeenteraad heeft in {month} besloten om {big} euro te investeren in het zwembad.",
            "De werkzaamheden gaan ongeveer {n_small} maanden duren, zegt de wethouder.",
            "Voor de stamppot heb je {n_small} grote aardappelen, een zak boerenkool en een rookworst nodig.",
            "Laat alles ongeveer {n_mid} minuten zachtjes koken en stamp het daarna fijn.",
            "Vanaf het station rijdt elke {n_mid} minuten een bus naar de haven.",
            "Bewoners klagen al jaren over het drukke verkeer in de hoofdstraat.",
            "Wie graag wandelt, moet zeker het pad naar {place2} nemen, het uitzicht is prachtig.",
            "We aten in een klein familierestaurant waar de vis elke dag vers uit de haven komt.",
        ],
    ),
    "pt": (
        [
            "Um fim de semana em {place}: o que ver",
            "Receita: bacalhau com natas",
        ],
        [
            "O mercado de {place} realiza-se todas as {weekday}s de manhã na praça principal.",
            "Passámos três dias na vila e adorámos a calma das suas ruas estreitas.",
            "A câmara municipal aprovou em {month} um investimento de {big} euros na escola.",
            "As obras devem durar cerca de {n_small} meses, segundo o presidente da câmara.",
            "Para esta receita precisa de {n_mid}0 gramas de bacalhau, batatas, cebola e natas.",
            "Leve ao forno durante {n_mid} minutos, até ficar bem dourado por cima.",
            "Da estação sai um autocarro para o porto de {n_mid} em {n_mid} minutos.",
            "Os moradores queixam-se há anos do trânsito na rua principal.",
            "Quem gosta de caminhar deve seguir o trilho até {place2}, a vista é fantástica.",
            "Jantámos numa pequena tasca familiar onde o peixe chega todos os dias do porto.",
        ],
    ),
}

# --- partner Q&A (customer support for invented products), English and German ----

PARTNER_QA: dict[str, list[tuple[str, str, str | None]]] = {
    # (question template, answer template, background template or None)
    "en": [
        ("How do I reset my {product} to factory settings?",
         "Hold the reset button on the back of the {product} for {n_small} seconds until the "
         "light blinks {colour}. All settings are erased, so note your network name first.",
         "Manual section {n_small}.{n_small2}: The reset button is recessed to prevent "
         "accidental presses. Use a paper clip."),
        ("Why does my {product} switch itself off after a few minutes?",
         "The {product} has an energy-saving timer set to {n_mid} minutes by default. You "
         "can change or disable it under Settings, then Power.",
         None),
        ("Can I use the {product} outdoors?",
         "The {product} is rated for indoor use only. Moisture can damage the electronics "
         "and is not covered by the warranty.",
         "Warranty terms: damage caused by water, dust or use outside the specified "
         "temperature range of 5 to {n_mid} degrees is excluded."),
        ("How long is the warranty on the {product}?",
         "The {product} comes with a {n_small}-year warranty from the date of purchase. "
         "Keep your receipt, as we need it to process a claim.",
         None),
        ("The {product} does not connect to my phone. What can I do?",
         "Make sure Bluetooth is on and the {product} is within {n_small} metres. Remove it "
         "from the list of paired devices, restart both and pair again.",
         "Known issue in firmware {n_small}.{n_small2}: pairing can fail after an update. "
         "Fixed in the next release."),
        ("Where can I find the serial number of my {product}?",
         "The serial number is printed on a label under the base of the {product} and also "
         "appears in the app under Device information.",
         None),
        ("Is the battery of the {product} replaceable?",
         "Yes. Replacement batteries are sold in our online shop, and the cover opens with "
         "a small cross-head screwdriver.",
         None),
        ("How do I clean the {product}?",
         "Unplug the {product} and wipe it with a dry, soft cloth. Do not use solvents or "
         "spray cleaners, as they can damage the {colour} finish.",
         None),
    ],
    "de": [
        ("Wie setze ich mein Gerät {product} auf die Werkseinstellungen zurück?",
         "Halten Sie die Reset-Taste auf der Rückseite {n_small} Sekunden lang gedrückt, bis "
         "die Anzeige blinkt. Dabei werden alle Einstellungen gelöscht.",
         "Handbuch, Abschnitt {n_small}: Die Reset-Taste ist versenkt, damit sie nicht "
         "versehentlich gedrückt wird."),
        ("Warum schaltet sich {product} nach einigen Minuten von selbst aus?",
         "Ab Werk ist ein Energiesparmodus mit {n_mid} Minuten eingestellt. Sie können ihn "
         "unter Einstellungen und dann Energie ändern oder abschalten.",
         None),
        ("Darf ich {product} im Freien benutzen?",
         "Nein, das Gerät ist nur für Innenräume gedacht. Feuchtigkeit kann die Elektronik "
         "beschädigen und fällt nicht unter die Garantie.",
         None),
        ("Wie lange gilt die Garantie für {product}?",
         "Sie erhalten {n_small} Jahre Garantie ab Kaufdatum. Bitte bewahren Sie den "
         "Kassenbon auf, wir benötigen ihn für die Bearbeitung.",
         None),
        ("Mein Telefon findet {product} nicht. Was kann ich tun?",
         "Prüfen Sie, ob Bluetooth eingeschaltet ist und das Gerät höchstens {n_small} Meter "
         "entfernt steht. Entfernen Sie die Kopplung und verbinden Sie beide Geräte neu.",
         "Bekanntes Problem in Firmware {n_small}.{n_small2}: Nach einem Update kann die "
         "Kopplung fehlschlagen."),
        ("Wo finde ich die Seriennummer von {product}?",
         "Die Seriennummer steht auf einem Aufkleber an der Unterseite und in der App unter "
         "Geräteinformationen.",
         None),
        ("Wie reinige ich {product} richtig?",
         "Ziehen Sie den Stecker und wischen Sie das Gerät mit einem trockenen, weichen Tuch "
         "ab. Verwenden Sie keine Lösungsmittel.",
         None),
    ],
}

#: Mojibake source sentences: real accented text that, once garbled, a fixer can restore.
MOJIBAKE_SOURCES = [
    ("en", "The café on the corner serves crème brûlée and a décor straight out of the 1920s."),
    ("en", "Our naïve résumé advice: keep it to one page and don’t list every job you’ve had."),
    ("fr", "Le château se trouve à côté de la forêt, près du lac où l’été est très agréable."),
    ("de", "Die Straße führt über die Brücke zum Bahnhof, wo man Brötchen und Käse kaufen kann."),
    ("es", "El niño comió piña y jamón en la montaña durante las vacaciones de otoño."),
    ("en", "Prices start at €25 per person – children under 6 go free – see the schedule below."),
]

#: Customers and agents phrase the same exchange in many ways: openers and closers.
PARTNER_FRAMES: dict[str, dict[str, list[str]]] = {
    "en": {
        "ask_open": ["", "Hi,", "Hello,", "Quick question:", "Help please!", "Hi there,",
                     "Good morning,", "Sorry if this was asked before, but"],
        "ask_close": ["", "Thanks in advance.", "I bought it in {month}.",
                      "It is only {n_small} weeks old.", "This is my second one.",
                      "The manual did not help.", "I am using it in {place}."],
        "answer_open": ["", "Thanks for reaching out.", "Sorry to hear about this.",
                        "Good question.", "Happy to help.", "Thank you for your message."],
        "answer_close": ["", "If this does not help, reply with your order number.",
                         "Let us know if the problem continues.",
                         "Our support line is open until {hour} on weekdays.",
                         "You will find more tips in the online manual.",
                         "Have a nice day!"],
    },
    "de": {
        "ask_open": ["", "Hallo,", "Guten Tag,", "Kurze Frage:", "Hilfe!", "Moin,",
                     "Entschuldigung, falls das schon gefragt wurde, aber"],
        "ask_close": ["", "Danke im Voraus.", "Ich habe es im {month} gekauft.",
                      "Es ist erst {n_small} Wochen alt.", "Die Anleitung hilft mir nicht.",
                      "Ich wohne in {place}."],
        "answer_open": ["", "Danke für Ihre Nachricht.", "Das tut uns leid.",
                        "Gute Frage.", "Gern helfen wir weiter."],
        "answer_close": ["", "Falls das nicht hilft, antworten Sie bitte mit Ihrer "
                         "Bestellnummer.", "Melden Sie sich gern, wenn das Problem bleibt.",
                         "Weitere Tipps finden Sie im Online-Handbuch.",
                         "Einen schönen Tag noch!"],
    },
}
