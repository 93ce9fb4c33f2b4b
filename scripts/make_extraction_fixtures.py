#!/usr/bin/env python3
"""Writes the main-text extraction fixtures: Tests/CorpusTests/Pages/NAME.html and NAME.txt.

Each page's main text is written here once (title, headings, paragraphs, list items) and wrapped
in a different kind of page furniture: navigation bars, sidebars, cookie banners, share buttons,
comment threads, related-link boxes, footers, div-only layouts, tables. So the text a perfect
extractor returns is known exactly: NAME.txt. `swift test` scores our extractor on them
(CorpusTests/MainTextTests) and scripts/extraction_f1.py compares it with trafilatura.
Run: python3 scripts/make_extraction_fixtures.py
"""
import html
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "CorpusTests", "Pages")

ARTICLES = {
    "news": ("Harbour bridge reopens after a year of repairs", [
        ("p", "The old harbour bridge reopened to traffic on Monday morning, eleven months after engineers closed it when a routine inspection found corroded cables beneath the eastern span."),
        ("p", "Crews replaced forty-two of the original steel cables, resurfaced the deck, and widened the footpath on the seaward side, which the council says will carry twice as many cyclists as before."),
        ("h2", "A slower crossing for lorries"),
        ("p", "Heavy goods vehicles will be limited to twenty miles an hour for the first six months, while sensors fitted to the new cables record how the structure behaves under load."),
        ("p", "Local traders, who saw fewer customers during the closure, welcomed the news. One baker near the southern approach said her morning queue had already returned to its usual length."),
        ("p", "The repairs cost less than the original estimate, partly because the steel arrived early and partly because a mild winter let the crews work through January without a break."),
    ]),
    "recipe": ("Brown bread with oats and honey", [
        ("p", "This loaf needs no kneading, keeps for four days, and makes the best toast I know. It takes about twenty minutes of work spread over an afternoon."),
        ("h2", "Ingredients"),
        ("li", "400 grams of wholemeal flour"),
        ("li", "100 grams of rolled oats, plus a handful for the top"),
        ("li", "two tablespoons of honey"),
        ("li", "one sachet of dried yeast and a teaspoon of salt"),
        ("li", "450 millilitres of warm water"),
        ("h2", "Method"),
        ("p", "Stir the flour, oats, yeast and salt together in a large bowl. Dissolve the honey in the warm water, pour it in, and mix until no dry flour remains."),
        ("p", "Scrape the wet dough into a greased tin, scatter the remaining oats over it, and leave it somewhere warm for an hour, until it has risen almost to the rim."),
        ("p", "Bake at two hundred degrees for forty minutes. The loaf is done when it sounds hollow as you tap the base; cool it on a rack before slicing."),
    ]),
    "docs": ("Configuring the cache", [
        ("p", "The cache keeps recently used results in memory so that repeated requests are answered without touching the disk. It is enabled by default and sized at one eighth of the available memory."),
        ("h2", "Choosing a size"),
        ("p", "A larger cache helps when the same keys are read many times in a short window. When most reads are of keys never seen before, a large cache only delays the moment memory runs out."),
        ("pre", "cache:\n  enabled: true\n  size: 512MB\n  eviction: lru"),
        ("h2", "Eviction"),
        ("p", "When the cache is full, the least recently used entry is removed first. Entries can also expire after a fixed time, which suits data that changes on a schedule."),
        ("li", "lru removes the entry unused for longest"),
        ("li", "lfu removes the entry used least often"),
        ("li", "ttl removes entries older than a given age"),
    ]),
    "wiki": ("Common swift", [
        ("p", "The common swift is a medium-sized bird that spends almost its whole life in the air, landing only to nest. It feeds, drinks, mates and even sleeps on the wing."),
        ("h2", "Description"),
        ("p", "Adults are sooty brown with a pale throat, long scythe-shaped wings and a short forked tail. Their legs are so short that they struggle to take off from flat ground."),
        ("h2", "Migration"),
        ("p", "Swifts breed across Europe and Asia and winter in southern Africa. A young bird may stay airborne for ten months after leaving the nest, covering hundreds of thousands of kilometres."),
        ("p", "They return to the same nest sites year after year, usually gaps under roof tiles or holes in old walls, which is why renovation work has reduced their numbers in many towns."),
    ]),
    "blog": ("What I learned from a year of running", [
        ("p", "Twelve months ago I could not run for the length of a bus stop. Last Sunday I finished my first half marathon, slowly, but without stopping once."),
        ("p", "The biggest lesson was patience. For the first eight weeks I alternated one minute of running with two of walking, and it felt ridiculous, but my knees never complained."),
        ("h2", "Sleep matters more than shoes"),
        ("p", "I spent far too long reading reviews of trainers. The runs that went badly almost always followed a short night, and no amount of cushioning fixed that."),
        ("p", "If you are starting out, find a route you like, run it three times a week, and write down how each run felt. The notes will show progress long before the stopwatch does."),
    ]),
    "forum": ("Why does my sourdough starter smell of nail varnish?", [
        ("p", "My starter is about two weeks old. It bubbles nicely after feeding, but by the next morning it smells sharp, almost like nail varnish remover. Is it ruined?"),
        ("p", "I feed it once a day with equal weights of flour and water and keep it on the kitchen counter, which is quite warm at the moment because of the heating."),
        ("p", "Answer: it is not ruined, it is hungry. That smell comes from the yeast running out of food. Feed it twice a day for a week, or keep it somewhere cooler, and the smell will fade."),
    ]),
    "divs": ("Opening hours and access", [
        ("div", "The library is open from nine in the morning until eight in the evening on weekdays, and from ten until four on Saturdays. It is closed on Sundays and public holidays."),
        ("div", "Step-free access is available through the side entrance on Mill Lane, where a lift serves every floor. Accessible toilets are on the ground and second floors."),
        ("div", "Members can borrow up to twelve items at a time for three weeks. Renewals can be made online, by telephone, or at the desk, unless another member has reserved the item."),
        ("div", "Study rooms can be booked for up to three hours a day. Please bring your membership card, as the rooms are locked with the same card reader as the main doors."),
    ]),
    "main": ("Planting bulbs for spring", [
        ("p", "Autumn is the time to plant the bulbs that flower in spring. Daffodils go in first, in September, while tulips are best left until November, when the soil has cooled."),
        ("p", "As a rule, plant a bulb at two to three times its own depth, pointed end up. In heavy clay, add a handful of grit to the bottom of each hole so that water drains away."),
        ("p", "Planting in groups of odd numbers looks more natural than straight rows. For a meadow effect, toss a handful of bulbs across the lawn and plant each one where it lands."),
        ("p", "Once the flowers fade, leave the leaves for six weeks before cutting them back. They feed the bulb for next year, and removing them early is the commonest reason for a poor display."),
    ]),
}


def body_html(blocks, para_tag="p"):
    out, in_list = [], False
    for tag, text in blocks:
        if tag == "li" and not in_list:
            out.append("<ul>"); in_list = True
        if tag != "li" and in_list:
            out.append("</ul>"); in_list = False
        t = html.escape(text).replace("\n", "\n") if tag == "pre" else html.escape(text)
        if tag == "div":
            out.append(f"<div class=\"para\">{t}</div>")
        else:
            out.append(f"<{tag}>{t}</{tag}>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def expected(title, blocks):
    lines = [title] + [("- " + t if tag == "li" else t) for tag, t in blocks]
    return "\n\n".join(lines) + "\n"


NAV = '<nav class="top"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li><li><a href="/about">About us</a></li></ul></nav>'
FOOTER = '<footer><p>Copyright 2026 The Example Company. All rights reserved.</p><p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms of use</a> | <a href="/contact">Contact</a></p></footer>'
COOKIE = '<div id="cookie-banner"><p>We use cookies to improve your experience, to analyse traffic and to show you relevant adverts. By continuing, you agree to our use of cookies.</p><button>Accept all</button></div>'
SHARE = '<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email this story</a></div>'
RELATED = '<aside class="related"><h3>Related stories</h3><ul><li><a href="/a">Council approves new cycle lanes along the seafront road</a></li><li><a href="/b">Ferry timetable changes for the winter season announced</a></li><li><a href="/c">Five of the best walks along the old harbour wall</a></li></ul></aside>'
SIDEBAR = '<div class="sidebar"><h3>Popular this week</h3><ul><li><a href="/p1">How to choose a tent for a family holiday in the hills</a></li><li><a href="/p2">Ten cheap dinners you can cook in under half an hour</a></li></ul><h3>Newsletter</h3><p>Sign up to get our best stories in your inbox every Friday morning, free of charge.</p></div>'
COMMENTS = '<section id="comments"><h3>3 comments</h3><div class="comment"><p>Great article, thanks for writing it, I learned a lot from this and will share it with friends.</p></div><div class="comment"><p>I disagree with the second point, but the rest was useful, and well argued overall.</p></div></section>'


def page(name, title, blocks):
    b = body_html(blocks)
    h1 = f"<h1>{html.escape(title)}</h1>"
    if name == "news":
        return f"<!DOCTYPE html><html><head><title>{title} | Example News</title><script>var tracking = {{id: 12345}};</script><style>body {{font: 16px serif}}</style></head><body>{COOKIE}<header class=\"masthead\"><a href=\"/\">Example News</a>{NAV}</header><div class=\"layout\"><article class=\"story\">{h1}<p class=\"byline\">By A. Reporter, 3 March 2026</p>{SHARE}<div class=\"story-body\">{b}</div>{SHARE}</article>{RELATED}</div>{FOOTER}</body></html>"
    if name == "recipe":
        return f"<html><head><title>{title}</title></head><body>{NAV}<div id=\"content\"><div class=\"post\">{h1}<div class=\"entry-content\">{b}</div></div>{COMMENTS}</div>{SIDEBAR}{FOOTER}</body></html>"
    if name == "docs":
        return f"<html><head><title>{title} - Manual</title></head><body><div class=\"wrapper\"><div class=\"toc sidebar\"><ul><li><a href=\"/install\">Installing</a></li><li><a href=\"/cache\">Configuring the cache</a></li><li><a href=\"/logs\">Logging</a></li><li><a href=\"/upgrade\">Upgrading</a></li></ul></div><main>{h1}{b}<div class=\"pagination\"><a href=\"/install\">Previous: Installing</a> <a href=\"/logs\">Next: Logging</a></div></main></div>{FOOTER}</body></html>"
    if name == "wiki":
        infobox = '<table class="infobox"><tr><th>Kingdom</th><td>Animalia</td></tr><tr><th>Order</th><td>Apodiformes</td></tr></table>'
        toc = '<div id="toc"><h2>Contents</h2><ul><li><a href="#d">1 Description</a></li><li><a href="#m">2 Migration</a></li></ul></div>'
        return f"<html><head><title>{title} - Wiki</title></head><body><div id=\"mw-navigation\">{NAV}</div><div id=\"content\" class=\"mw-body\">{h1}<div id=\"bodyContent\">{infobox}{toc}{b}<div class=\"catlinks\"><a href=\"/c/birds\">Birds</a> <a href=\"/c/europe\">Birds of Europe</a></div></div></div>{FOOTER}</body></html>"
    if name == "blog":
        return f"<html><head><title>{title}</title></head><body><header><h2 class=\"site-title\"><a href=\"/\">Miles and Mornings</a></h2>{NAV}</header><div class=\"container\"><article class=\"post\"><header>{h1}<p class=\"meta\">Posted on 12 May 2026 in <a href=\"/t/running\">running</a></p></header><div class=\"post-content\">{b}</div><p class=\"tags\">Tags: <a href=\"/t/1\">running</a>, <a href=\"/t/2\">health</a></p></article>{SIDEBAR}</div>{COMMENTS}{FOOTER}</body></html>"
    if name == "forum":
        posts = "".join(f"<div class=\"post-body\"><p>{html.escape(t)}</p></div>" for _, t in blocks)
        return f"<html><head><title>{title} - Baking Forum</title></head><body>{NAV}<div class=\"breadcrumb\"><a href=\"/\">Forum</a> &gt; <a href=\"/bread\">Bread</a></div><div class=\"thread\">{h1}{posts}</div><div class=\"pagination\"><a href=\"?p=1\">1</a> <a href=\"?p=2\">2</a></div>{FOOTER}</body></html>"
    if name == "divs":
        divs = "".join(f"<div>{html.escape(t)}<br></div>" for _, t in blocks)
        return f"<html><head><title>{title}</title></head><body><div class=\"menu\"><a href=\"/\">Home</a> <a href=\"/events\">Events</a> <a href=\"/join\">Join</a></div><div class=\"page\"><div class=\"heading\"><b>{html.escape(title)}</b></div>{divs}</div><div class=\"foot\">Town Library, Mill Lane. Registered charity 123456.</div></body></html>"
    if name == "main":
        return f"<html><head><title>{title}</title></head><body>{COOKIE}<header>{NAV}</header><main><article>{h1}{b}</article></main><aside><h3>In the shop</h3><p>Bulb planter with depth markings, now reduced for a limited time only.</p></aside>{FOOTER}</body></html>"
    raise ValueError(name)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (title, blocks) in ARTICLES.items():
        with open(os.path.join(OUT, name + ".html"), "w") as f:
            f.write(page(name, title, blocks))
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write(expected(title, blocks))
    print(f"wrote {len(ARTICLES)} fixture pages to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
