"""Real-browser user agents in the formats their vendors send, made when the tests run (so
no generated corpus is stored; ``corpora.browsers()`` adds them to the stored ones).

Each format below is the one the vendor's browser or app sends, as documented by the vendor
(Chrome's and Edge's reduced user agent, Safari's and Firefox's fixed strings, Samsung Internet's
and UC Browser's developer pages) or as the app's in-app browser appends it to the system
WebView's agent (Zalo, Facebook, Messenger, Instagram, TikTok, Viber). Devices and Android build
ids are the phones sold in Viet Nam and the builds they shipped, Android 10 to 16.
"""

from __future__ import annotations

from itertools import product

# (Android version, build id) pairs as phones report them; AP3A.240617.008 is the one that
# crawler-user-agents listed for an 80legs agent (issue 11).
ANDROID_BUILDS = [
    ("10", "QP1A.190711.020"),
    ("11", "RP1A.200720.012"),
    ("12", "SP1A.210812.016"),
    ("13", "TP1A.220624.014"),
    ("14", "UP1A.231005.007"),
    ("14", "UKQ1.230924.001"),
    ("15", "AP3A.240617.008"),
    ("15", "AP3A.240905.015.A2"),
    ("15", "AP3A.241105.008"),
    ("15", "AP4A.250205.002"),
    ("16", "BP2A.250605.031.A3"),
]
ANDROID_DEVICES = [
    ("samsung", "SM-A155F", "a15"),
    ("samsung", "SM-A057F", "a05s"),
    ("samsung", "SM-A356E", "a35x"),
    ("samsung", "SM-S928B", "e3q"),
    ("OPPO", "CPH2591", "OP5A1BL1"),
    ("OPPO", "CPH2557", "OP573DL1"),
    ("Xiaomi", "23129RAA4G", "tanzanite"),
    ("Xiaomi", "2312DRAABG", "sapphire"),
    ("vivo", "V2327", "2327"),
    ("realme", "RMX3834", "RE5C6CL1"),
    ("Google", "Pixel 8", "shiba"),
]
IOS_VERSIONS = ["15_8_3", "16_7_10", "17_6_1", "18_1", "18_3_2", "18_6", "26_0"]
IPHONES = ["iPhone14,5", "iPhone15,2", "iPhone16,1", "iPhone17,3"]
CHROME = ["120.0.6099.230", "126.0.6478.122", "131.0.6778.135", "137.0.7151.89", "140.0.7339.51"]
WINDOWS = "Windows NT 10.0; Win64; x64"
MAC = "Macintosh; Intel Mac OS X 10_15_7"
LINUX = "X11; Linux x86_64"
SAFARI_MOBILE = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"


def webview(android: str, build: str, model: str, chrome: str) -> str:
    """An Android System WebView agent, the one every in-app browser starts from."""
    return (
        f"Mozilla/5.0 (Linux; Android {android}; {model} Build/{build}; wv) {BLINK} "
        f"Version/4.0 Chrome/{chrome} Mobile Safari/537.36"
    )


def ios_app(ios: str, device: str = "iPhone") -> str:
    """A WKWebView agent inside an iOS app (no Version/ and no Safari/ token)."""
    cpu = "CPU OS" if device == "iPad" else "CPU iPhone OS"
    return f"Mozilla/5.0 ({device}; {cpu} {ios} like Mac OS X) {SAFARI_MOBILE} Mobile/15E148"


def in_app_android() -> list[str]:
    agents = []
    pairs = product(ANDROID_BUILDS, ANDROID_DEVICES)
    for n, ((android, build), (maker, model, code)) in enumerate(pairs):
        base = webview(android, build, model, CHROME[n % len(CHROME)])
        sdk = {"10": 29, "11": 30, "12": 31, "13": 33, "14": 34, "15": 35, "16": 36}[android]
        agents += [
            f"{base} Zalo android/12110542 ZaloTheme/light ZaloLanguage/vi",
            f"{base} [FB_IAB/FB4A;FBAV/487.0.0.61.84;]",
            f"{base} [FB_IAB/FB4A;FBAV/512.0.0.48.109;IABMV/1;]",
            f"{base} MetaIAB Facebook",
            f"{base} [FB_IAB/Orca-Android;FBAV/480.0.0.47.109;]",
            f"{base} Instagram 406.0.0.58.159 Android ({sdk}/{android}; 480dpi; 1080x2400; "
            f"{maker}; {model}; {code}; mt6833; vi_VN; 822918295; IABMV/1)",
            f"{base} trill_350003 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/trill "
            "app_version/35.0.3 ByteLocale/vi ByteFullLocale/vi Region/VN AppId/1180 "
            "Spark/1.5.6.1-bugfix AppVersion/35.0.3 BytedanceWebview/d8a21c6",
            f"{base} Viber/24.9.2.0",
        ]
    return agents


def in_app_ios() -> list[str]:
    agents = []
    for ios, device in product(IOS_VERSIONS, IPHONES):
        base = ios_app(ios)
        dotted = ios.replace("_", ".")
        agents += [
            f"{base} Zalo iOS/25.1.2 ZaloTheme/dark ZaloLanguage/vi",
            f"{base} [FBAN/FBIOS;FBAV/488.0.0.44.105;FBBV/670416540;FBDV/{device};FBMD/iPhone;"
            f"FBSN/iOS;FBSV/{dotted};FBSS/3;FBID/phone;FBLC/vi_VN;FBOP/5;FBRV/672033117;IABMV/1]",
            f"{base} [FBAN/MessengerForiOS;FBAV/480.0.0.32.106;FBBV/648012473;FBDV/{device};"
            f"FBMD/iPhone;FBSN/iOS;FBSV/{dotted};FBSS/3;FBCR/;FBID/phone;FBLC/vi;FBOP/5]",
            f"{base} Instagram 352.0.0.22.84 ({device}; iOS {ios}; vi_VN; vi; scale=3.00; "
            "1179x2556; 651382012) NW/3",
            f"{base} musical_ly_35.1.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/vi "
            "Region/VN isDarkMode/0 WKWebView/1 RevealType/Dialog BytedanceWebview/d8a21c6",
            f"{base} Viber/24.8.0",
        ]
    agents.append(
        f"{ios_app('17_6_1', 'iPad')} [FBAN/FBIOS;FBAV/470.0.0.33.94;FBBV/620000000;"
        "FBDV/iPad13,18;FBMD/iPad;FBSN/iPadOS;FBSV/17.6.1;FBSS/2;FBID/tablet;FBLC/vi_VN;FBOP/5]"
    )
    return agents


def browsers_android() -> list[str]:
    agents = []
    for (android, build), (_maker, model, _code), chrome in product(
        ANDROID_BUILDS, ANDROID_DEVICES[::2], CHROME[1::2]
    ):
        major = chrome.split(".")[0]
        agents += [
            # Chrome's reduced agent: the device is always "K" and the version MAJOR.0.0.0.
            f"Mozilla/5.0 (Linux; Android 10; K) {BLINK} Chrome/{major}.0.0.0 Mobile Safari/537.36",
            f"Mozilla/5.0 (Linux; Android {android}; K) {BLINK} Chrome/{major}.0.0.0 Mobile "
            f"Safari/537.36 EdgA/{major}.0.2903.87",
            f"Mozilla/5.0 (Linux; Android {android}; SAMSUNG {model}) {BLINK} SamsungBrowser/27.0 "
            f"Chrome/{major}.0.0.0 Mobile Safari/537.36",
            f"Mozilla/5.0 (Android {android}; Mobile; rv:{major}.0) Gecko/{major}.0 Firefox/{major}.0",
            f"Mozilla/5.0 (Linux; U; Android {android}; vi-VN; {model} Build/{build}) {BLINK} "
            f"Version/4.0 Chrome/{chrome} UCBrowser/13.8.2.1324 Mobile Safari/537.36",
            f"Mozilla/5.0 (Linux; Android {android}; {model}) {BLINK} coc_coc_browser/{major}.0.0 "
            f"Chrome/{chrome} Mobile Safari/537.36",
            f"Mozilla/5.0 (Linux; Android {android}; {model}) {BLINK} Chrome/{chrome} Mobile "
            f"Safari/537.36 OPR/86.0.4363.80585",
            # DuckDuckGo's browser: its WebView's agent with DuckDuckGo/N before Safari/.
            f"Mozilla/5.0 (Linux; Android {android}) {BLINK} Version/4.0 Chrome/{major}.0.0.0 "
            "Mobile DuckDuckGo/5 Safari/537.36",
        ]
    return agents


def browsers_ios() -> list[str]:
    agents = []
    for ios, chrome in product(IOS_VERSIONS, CHROME):
        version = ".".join(ios.split("_")[:2])
        major = chrome.split(".")[0]
        phone = f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) {SAFARI_MOBILE}"
        pad = f"Mozilla/5.0 (iPad; CPU OS {ios} like Mac OS X) {SAFARI_MOBILE}"
        agents += [
            f"{phone} Version/{version} Mobile/15E148 Safari/604.1",
            f"{pad} Version/{version} Mobile/15E148 Safari/604.1",
            f"{phone} CriOS/{chrome} Mobile/15E148 Safari/604.1",
            f"{phone} FxiOS/{major}.0 Mobile/15E148 Safari/605.1.15",
            f"{phone} Version/{version} EdgiOS/{major}.0.2903.86 Mobile/15E148 Safari/605.1.15",
            f"{phone} coc_coc_browser/{major}.0.{chrome.split('.')[2]} Mobile/15E148 Safari/604.1",
            f"{phone} Version/{version} Mobile/15E148 UCBrowser/13.4.0.1306 Mobile Safari/605.1",
            f"{phone} Version/{version} Mobile/15E148 DuckDuckGo/7 Safari/605.1.15",
        ]
    return agents


def browsers_desktop() -> list[str]:
    agents = []
    for platform, chrome in product((WINDOWS, MAC, LINUX), CHROME):
        major = chrome.split(".")[0]
        agents += [
            f"Mozilla/5.0 ({platform}) {BLINK} Chrome/{major}.0.0.0 Safari/537.36",
            f"Mozilla/5.0 ({platform}) {BLINK} Chrome/{major}.0.0.0 Safari/537.36 Edg/{major}.0.0.0",
            f"Mozilla/5.0 ({platform}; rv:{major}.0) Gecko/20100101 Firefox/{major}.0",
            f"Mozilla/5.0 ({platform}) {BLINK} coc_coc_browser/{major}.0.{chrome.split('.')[2]} "
            f"Chrome/{chrome} Safari/537.36",
            f"Mozilla/5.0 ({platform}) {BLINK} Chrome/{major}.0.0.0 Safari/537.36 OPR/115.0.0.0",
        ]
    for version in ("16.6", "17.6", "18.1", "18.5", "26.0"):
        agents.append(
            f"Mozilla/5.0 ({MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            f"Version/{version} Safari/605.1.15"
        )
    agents.append(
        f"Mozilla/5.0 ({WINDOWS}) {BLINK} ZaloPC-win32-24v/24.10.1 Chrome/128.0.6613.186 "
        "Electron/32.2.6 Safari/537.36"
    )
    return agents


def written() -> list[str]:
    agents = in_app_android() + in_app_ios() + browsers_android() + browsers_ios()
    agents += browsers_desktop()
    return list(dict.fromkeys(agents))  # each agent once, in order
