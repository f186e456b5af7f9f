"""Aspect cues: the words that make a clause about a theme good or bad news in customer feedback.

General sentiment lexicons do not know that "late", "slow", "on hold" or "expensive" are complaints, or that
"no answer" is one ("answer" is neutral, its absence is not). The tagger reads these cues in the clause around
a theme as well as the sentiment backend's label, and a cue decides when the two disagree (see keywords.py).
- positive / negative: the cue's polarity; a negator before it flips it ("not late" positive, "pas cher"
  positive, "not fast" negative).
- expected: what should happen, neutral as such, negative when negated ("never answered", "no llegó",
  "funktioniert nicht" reads the negator after it too, see keywords.py).
Matched like keywords (stemmed, accents and case folded, phrases as word sequences). Written by hand, general
vocabulary of the domain; a few words change polarity with the theme ("cheap" price vs "cheap" quality), so
THEME_CUES scope them to a theme and its children.
"""

from __future__ import annotations

CUES: dict[str, dict[str, list[str]]] = {
    "en": {
        "positive": [
            "fast", "quick", "quickly", "speedy", "prompt", "promptly", "on time", "early",
            "ahead of schedule", "in time", "next day", "affordable", "reasonable", "good value", "bargain",
            "worth it", "intact", "well packaged", "helpful", "friendly", "polite", "kind", "knowledgeable",
            "professional", "patient", "attentive", "courteous", "solved", "resolved", "fixed", "sorted",
            "easy", "smooth", "simple", "intuitive", "seamless", "sturdy", "durable", "solid", "well made",
            "reliable", "excellent", "great", "good", "perfect", "love", "recommend", "happy", "satisfied",
            "impressed", "amazing", "fantastic", "in stock", "back in stock", "responsive", "instant",
            "immediately", "hassle free", "painless", "flawless", "smoothly", "works perfectly",
            "delicious", "tasty", "comfy", "comfortable", "gorgeous", "solved my problem", "fixed my problem",
            "sorted my problem", "problem solved",
            "convenient", "handy", "no fees", "free of charge",
            "worth every penny", "slick",
        ],
        "negative": [
            "late", "delay", "delayed", "slow", "slowly", "took forever", "took ages", "took weeks",
            "days late", "still waiting", "waiting", "wait", "waited", "on hold", "lost", "missing",
            "damaged", "broken", "crushed", "dented", "torn", "scratched", "cracked", "leaking", "wrong",
            "defective", "faulty", "stopped working", "fell apart", "flimsy", "poor", "low quality",
            "expensive", "overpriced", "pricey", "rip off", "too much", "price increase", "hidden fees",
            "charged twice", "overcharged", "double charged", "unauthorized", "scam", "rude", "unfriendly",
            "unhelpful", "useless", "incompetent", "ignored", "arrogant", "crash", "crashes", "crashed",
            "crashing", "freezes", "freeze", "frozen", "bug", "buggy", "glitch", "error", "lag", "laggy",
            "declined", "failed", "fails", "failure", "confusing", "complicated", "difficult", "impossible",
            "annoying", "frustrating", "problem", "issue", "complaint", "disappointed", "disappointing",
            "terrible", "awful", "horrible", "bad", "worst", "unacceptable", "out of stock", "sold out",
            "unavailable", "refused", "denied", "nightmare", "hassle", "ridiculous", "pathetic", "joke",
            "mess", "hung up", "cut off", "invalid", "not valid", "without warning", "without notice",
            "unannounced", "took a month", "took months", "took month", "went up", "gone up", "increased",
            "raised",
            "be patient",
            "froze", "came off", "came apart",
        ],
        "expected": [
            "arrive", "arrived", "answer", "answered", "reply", "replied", "respond", "responded",
            "response", "work", "works", "worked", "receive", "received", "help", "helped", "fix", "solve",
            "resolve", "call back", "refund", "deliver", "delivered", "show up", "load", "loads", "get back",
            "come", "came", "accept", "accepted", "available", "in stock",
            "last", "lasts", "lasted", "by mistake",
            "redeem", "apply",
        ],
    },
    "es": {
        "positive": [
            "rápido", "rápida", "rápidamente", "pronto", "a tiempo", "puntual", "antes de lo previsto",
            "asequible", "razonable", "buen precio", "buena relación calidad precio", "vale la pena",
            "ganga", "intacto", "bien embalado", "amable", "amables", "atento", "atenta", "simpático",
            "profesional", "servicial", "paciente", "resuelto", "resolvieron", "solucionado", "solucionaron",
            "fácil", "sencillo", "intuitivo", "resistente", "duradero", "sólido", "bien hecho", "fiable",
            "excelente", "genial", "bueno", "buena", "buen", "perfecto", "perfecta", "encanta", "recomiendo",
            "contento", "contenta", "satisfecho", "satisfecha", "increíble", "estupendo", "maravilla",
            "de lujo", "disponible", "al instante", "sin problemas", "funciona perfectamente", "eficiente",
            "eficaz",
            "delicioso", "deliciosa", "rico", "rica", "cómodo", "cómoda", "precioso", "preciosa",
            "resolvieron el problema", "solucionaron el problema", "problema resuelto",
            "práctico", "práctica", "cómodo", "fluida", "fluido", "sin comisiones", "sin intereses",
            "vale cada euro", "vale cada céntimo", "vale lo que cuesta",
        ],
        "negative": [
            "tarde", "retraso", "retrasado", "retrasada", "lento", "lenta", "demora", "tardó", "tardaron",
            "semanas", "esperando", "espera", "esperar", "esperé", "perdido", "perdida", "falta", "faltaba",
            "dañado", "dañada", "roto", "rota", "aplastado", "abollado", "rayado", "equivocado",
            "equivocada", "incorrecto", "defectuoso", "defectuosa", "dejó de funcionar", "se rompió",
            "mala calidad", "malo", "mala", "caro", "cara", "carísimo", "demasiado", "abusivo", "subida",
            "cobraron dos veces", "cobro doble", "doble cobro", "cobro indebido", "estafa", "maleducado",
            "grosero", "grosera", "borde", "inútil", "incompetente", "ignoraron", "se cuelga", "se bloquea",
            "bloquea", "cierra solo", "error", "errores", "fallo", "falla", "fallos", "rechazada",
            "rechazado", "confuso", "complicado", "difícil", "imposible", "molesto", "frustrante",
            "problema", "problemas", "queja", "decepcionado", "decepcionada", "decepción", "terrible",
            "horrible", "pésimo", "pésima", "fatal", "peor", "inaceptable", "agotado", "agotada",
            "sin stock", "no disponible", "desastre", "vergüenza", "lamentable", "nefasto", "colgaron",
            "inválido", "no válido", "sin avisar", "sin previo aviso", "tardó un mes", "tardó meses",
            "subió", "subieron", "han subido", "aumentado",
            "tener paciencia", "tuviera paciencia",
            "no sirve para nada",
            "se colgó", "se quedó colgada", "se quedó pillada", "se despegó", "se descosió",
            "dura poco", "dura muy poco", "duró poco",
        ],
        "expected": [
            "llegar", "llegó", "llegado", "llega", "contestar", "contestó", "contestaron", "responder",
            "respondió", "respondieron", "respuesta", "funciona", "funcionar", "funcionó", "recibí",
            "recibido", "ayuda", "ayudaron", "solucionar", "resolver", "devolvieron", "reembolso",
            "entregar", "entregaron", "carga", "aparece", "atendieron", "llamaron", "hay stock",
            "arreglar", "arreglaron", "arreglado",
            "dura", "duró", "aguanta", "por error",
            "canjear", "aplicar",
        ],
    },
    "fr": {
        "positive": [
            "rapide", "rapidement", "vite", "à l'heure", "en avance", "dans les délais", "ponctuel",
            "abordable", "raisonnable", "bon rapport qualité prix", "bonne affaire", "vaut le coup",
            "intact", "bien emballé", "aimable", "sympathique", "sympa", "poli", "polie", "professionnel",
            "serviable", "patient", "à l'écoute", "résolu", "réglé", "facile", "simple", "intuitif",
            "intuitive", "solide", "robuste", "durable", "bien fait", "fiable", "excellent", "excellente",
            "génial", "géniale", "super", "bon", "bonne", "bien", "parfait", "parfaite", "adore",
            "recommande", "content", "contente", "satisfait", "satisfaite", "ravi", "ravie", "top",
            "impeccable", "disponible", "efficace", "sans problème", "fonctionne parfaitement", "nickel",
            "délicieux", "délicieuse", "savoureux", "confortable", "magnifique", "résolu mon problème",
            "réglé mon problème", "problème résolu", "problème réglé",
            "pratique", "fluide", "sans frais", "bel", "belle", "beau",
            "vaut chaque centime", "vaut son prix",
        ],
        "negative": [
            "retard", "en retard", "tard", "lent", "lente", "lenteur", "délai trop long", "des semaines",
            "toujours en attente", "attente", "attendre", "attendu", "attends", "attend", "attendons",
            "perdu", "perdue", "manquant", "manque", "endommagé", "endommagée", "abîmé", "abîmée", "cassé",
            "cassée", "écrasé", "rayé", "fissuré", "mauvais article", "erroné", "défectueux", "défectueuse",
            "ne marche plus", "fragile", "mauvaise qualité", "mauvais", "mauvaise", "cher", "chère",
            "trop cher", "hors de prix", "arnaque", "augmentation", "frais cachés", "débité deux fois",
            "prélevé deux fois", "double prélèvement", "surfacturé", "impoli", "impolie", "désagréable",
            "incompétent", "inutile", "ignoré", "plante", "bug", "bugs", "bogue", "erreur", "erreurs",
            "refusée", "refusé", "échec", "confus", "compliqué", "difficile", "impossible", "agaçant",
            "frustrant", "problème", "problèmes", "souci", "plainte", "déçu", "déçue", "décevant",
            "déception", "terrible", "horrible", "nul", "nulle", "pire", "inacceptable", "catastrophe",
            "catastrophique", "honteux", "rupture de stock", "épuisé", "indisponible", "lamentable",
            "raccroché", "invalide", "non valide", "sans prévenir", "sans préavis", "pris un mois",
            "pris des mois", "augmenté", "augmentent",
            "être patient",
            "ne sert à rien",
            "rame", "décollé", "décollée", "décousu",
        ],
        "expected": [
            "arrivé", "arrivée", "arriver", "reçu", "reçue", "recevoir", "répondu", "répondre", "réponse",
            "fonctionne", "marche", "aidé", "aider", "aide", "remboursé", "rembourser", "remboursement",
            "livré", "livrée", "charge", "rappelé", "rappeler", "résoudre", "en stock", "disponible",
            "tient", "dure", "par erreur",
            "appliquer", "utiliser",
        ],
    },
    "de": {
        "positive": [
            "schnell", "zügig", "pünktlich", "rechtzeitig", "früher als erwartet", "günstig", "preiswert",
            "fair", "angemessen", "preis-leistung stimmt", "lohnt sich", "schnäppchen", "unbeschädigt",
            "gut verpackt", "freundlich", "nett", "höflich", "kompetent", "hilfsbereit", "hilfreich",
            "geduldig", "professionell", "gelöst", "behoben", "einfach", "intuitiv", "übersichtlich",
            "stabil", "robust", "langlebig", "hochwertig", "gut verarbeitet", "zuverlässig", "ausgezeichnet",
            "hervorragend", "super", "toll", "gut", "prima", "perfekt", "klasse", "top", "begeistert",
            "empfehle", "empfehlen", "zufrieden", "sehr zufrieden", "wieder verfügbar", "reibungslos",
            "problemlos", "sofort", "funktioniert einwandfrei", "einwandfrei",
            "lecker", "bequem", "wunderschön", "Problem gelöst", "Problem behoben",
            "praktisch", "flüssig", "ohne Gebühren", "gebührenfrei",
            "ruckzuck", "jeden Cent wert", "jeden Euro wert",
            "hält ewig", "hält lange",
        ],
        "negative": [
            "spät", "zu spät", "verspätet", "verspätung", "verzögerung", "verzögert", "langsam", "dauerte",
            "wochen", "warte", "warten", "gewartet", "wartezeit", "warteschleife", "verloren", "fehlt",
            "fehlte", "fehlend", "beschädigt", "kaputt", "zerbrochen", "zerdrückt", "eingedrückt",
            "zerkratzt", "gerissen", "falsch", "falsche", "falschen", "defekt", "mangelhaft",
            "geht nicht mehr", "minderwertig", "schlechte qualität", "schlecht", "schlechter", "teuer",
            "teurer", "zu teuer", "überteuert", "wucher", "preiserhöhung", "abzocke", "versteckte kosten",
            "doppelt abgebucht", "doppelt berechnet", "unfreundlich", "unhöflich", "frech", "inkompetent",
            "nutzlos", "ignoriert", "stürzt ab", "abgestürzt", "absturz", "abstürze", "hängt",
            "hängt sich auf", "fehler", "bug", "bugs", "abgelehnt", "fehlgeschlagen", "verwirrend",
            "kompliziert", "umständlich", "schwierig", "unmöglich", "nervig", "ärgerlich", "frustrierend",
            "problem", "probleme", "beschwerde", "enttäuscht", "enttäuschend", "enttäuschung", "schrecklich",
            "furchtbar", "katastrophe", "katastrophal", "miserabel", "mies", "schlimmste", "inakzeptabel",
            "unzufrieden", "ausverkauft", "nicht vorrätig", "nicht verfügbar", "nicht lieferbar",
            "frechheit", "unverschämt", "aufgelegt", "ungültig", "ohne vorwarnung", "ohne ankündigung",
            "dauerte einen monat", "monatelang", "gestiegen", "erhöht", "teurer geworden",
            "Geduld haben",
            "bringt nichts",
            "aufgehängt", "ewig", "unbrauchbar", "aufgegangen",
            "hält nicht lange",
        ],
        "expected": [
            "angekommen", "ankommen", "kam", "erhalten", "bekommen", "antwort", "geantwortet", "antworten",
            "reagiert", "funktioniert", "funktionieren", "geholfen", "helfen", "hilfe", "erstattet",
            "erstattung", "rückerstattung", "geliefert", "zurückgerufen", "gelöst", "lädt", "verfügbar",
            "vorrätig", "lieferbar", "gemeldet",
            "hält", "hielt", "aus Versehen",
            "einlösen", "einlösbar",
        ],
    },
    "pt": {
        "positive": [
            "rápido", "rápida", "rapidamente", "rapidez", "no prazo", "dentro do prazo", "pontual",
            "antes do prazo", "em dia", "acessível", "razoável", "bom preço", "preço justo", "vale a pena",
            "pechincha", "intacto", "bem embalado", "simpático", "simpática", "atencioso", "atenciosa",
            "educado", "educada", "prestativo", "prestativa", "profissional", "paciente", "resolvido",
            "resolveram", "fácil", "simples", "intuitivo", "resistente", "durável", "sólido", "bem feito",
            "confiável", "excelente", "ótimo", "ótima", "bom", "boa", "perfeito", "perfeita", "adorei",
            "amei", "recomendo", "satisfeito", "satisfeita", "maravilhoso", "incrível", "top", "disponível",
            "na hora", "sem problemas", "funciona perfeitamente", "eficiente", "nota dez",
            "delicioso", "deliciosa", "gostoso", "gostosa", "confortável", "lindo", "linda",
            "resolveu meu problema", "resolveram meu problema", "problema resolvido",
            "prático", "prática", "fluido", "fluida", "sem juros", "sem taxas",
            "vale cada centavo",
        ],
        "negative": [
            "atraso", "atrasado", "atrasada", "atrasou", "demora", "demorou", "demorado", "lento", "lenta",
            "semanas", "esperando", "espera", "esperar", "esperei", "aguardando", "perdido", "extraviado",
            "extraviada", "faltando", "falta", "danificado", "danificada", "quebrado", "quebrada",
            "amassado", "amassada", "riscado", "arranhado", "errado", "errada", "defeito", "defeituoso",
            "parou de funcionar", "frágil", "má qualidade", "baixa qualidade", "ruim", "péssimo", "péssima",
            "caro", "cara", "caríssimo", "abusivo", "aumento", "taxas escondidas", "cobrado duas vezes",
            "cobrança duplicada", "cobrança indevida", "golpe", "mal educado", "grosso", "grossa",
            "grosseiro", "rude", "inútil", "incompetente", "ignoraram", "trava", "travando", "travou",
            "fecha sozinho", "erro", "erros", "bug", "falha", "falhas", "recusado", "recusada", "confuso",
            "complicado", "difícil", "impossível", "chato", "frustrante", "problema", "problemas",
            "reclamação", "decepcionado", "decepcionada", "decepção", "terrível", "horrível", "pior",
            "inaceitável", "esgotado", "esgotada", "sem estoque", "indisponível", "vergonha", "lamentável",
            "desastre", "descaso", "desligaram", "inválido", "sem aviso", "sem avisar", "levou um mês",
            "levou meses", "subiu", "subiram", "aumentou", "aumentaram",
            "ter paciência", "tivesse paciência",
            "não serve para nada", "não serve pra nada",
            "travado", "descolou", "descosturou",
            "dura pouco", "dura muito pouco", "durou pouco",
        ],
        "expected": [
            "chegou", "chegar", "chega", "recebi", "receber", "recebido", "respondeu", "responderam",
            "responder", "resposta", "retorno", "funciona", "funcionar", "funcionou", "ajudou", "ajudaram",
            "ajuda", "reembolso", "reembolsaram", "estorno", "entregue", "entregaram", "resolver", "carrega",
            "atenderam", "retornaram", "em estoque",
            "na hora de", "na hora do", "na hora da",
            "dura", "durou", "aguenta", "por engano", "por erro",
            "aplicar", "usar",
        ],
    },
}  # fmt: skip

# Cues whose polarity depends on the theme: keyed by theme id, they apply to that theme and its children.
THEME_CUES: dict[str, dict[str, dict[str, list[str]]]] = {
    "billing": {
        "en": {
            "positive": [
                "reversed", "refunded", "credited back",
            ],
            "negative": [
                "keeps charging", "still charging", "kept charging", "still being charged", "taking money",
            ],
        },
        "es": {
            "positive": [
                "anulado", "reembolsado", "devuelto",
            ],
            "negative": [
                "siguen cobrando", "seguís cobrando", "siguen cobrándome", "me siguen cobrando",
            ],
        },
        "fr": {
            "positive": [
                "remboursé", "recrédité",
            ],
            "negative": [
                "continuez à prélever", "continuent à prélever", "continuez à facturer", "toujours prélevé",
            ],
        },
        "de": {
            "positive": [
                "storniert", "erstattet", "zurückerstattet", "gutgeschrieben",
            ],
            "negative": [
                "trotzdem abgebucht", "weiter abgebucht", "zweimal abgebucht", "bucht trotzdem",
            ],
        },
        "pt": {
            "positive": [
                "estornado", "estornaram", "estornada", "reembolsado",
            ],
            "negative": [
                "continuam cobrando", "continuam a cobrar", "continua cobrando", "cobrado duas vezes",
            ],
        },
    },
    "price": {
        "en": {
            "positive": [
                "cheap", "cheaper", "low price", "discount", "free",
            ],
            "negative": [
                "high",
            ],
        },
        "es": {
            "positive": [
                "barato", "barata", "más barato", "descuento", "gratis",
            ],
            "negative": [
                "alto",
            ],
        },
        "fr": {
            "positive": [
                "pas cher", "bon marché", "moins cher", "réduction", "gratuit",
            ],
            "negative": [
                "élevé",
            ],
        },
        "de": {
            "positive": [
                "billig", "billiger", "rabatt", "gratis", "kostenlos",
            ],
            "negative": [
                "hoch",
            ],
        },
        "pt": {
            "positive": [
                "barato", "barata", "mais barato", "desconto", "grátis",
            ],
            "negative": [
                "alto",
            ],
        },
    },
    "delivery": {
        "en": {
            "positive": [
                "cheap", "free",
            ],
            "negative": [
                "high",
            ],
        },
        "es": {
            "positive": [
                "barato", "gratis",
            ],
            "negative": [
                "alto",
            ],
        },
        "fr": {
            "positive": [
                "gratuit", "gratuite",
            ],
            "negative": [
                "élevé",
            ],
        },
        "de": {
            "positive": [
                "billig", "gratis", "kostenlos",
            ],
            "negative": [
                "hoch",
            ],
        },
        "pt": {
            "positive": [
                "barato", "grátis",
            ],
            "negative": [
                "alto",
            ],
        },
    },
    "quality": {
        "en": {
            "negative": [
                "cheap", "cheaply made", "cheap material",
            ],
        },
        "es": {
            "negative": [
                "barato", "barata",
            ],
        },
        "fr": {
            "negative": [
                "bas de gamme", "camelote",
            ],
        },
        "de": {
            "negative": [
                "billig", "billig verarbeitet",
            ],
        },
        "pt": {
            "negative": [
                "barato", "barata", "vagabundo",
            ],
        },
    },
    # A page measured in seconds or minutes is a slow page.
    "app-performance": {
        "en": {
            "negative": [
                "seconds", "minutes",
            ],
        },
        "es": {
            "negative": [
                "segundos", "minutos",
            ],
        },
        "fr": {
            "negative": [
                "secondes", "minutes",
            ],
        },
        "de": {
            "negative": [
                "Sekunden", "Minuten",
            ],
        },
        "pt": {
            "negative": [
                "segundos", "minutos",
            ],
        },
    },
}  # fmt: skip
