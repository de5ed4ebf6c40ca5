<?php
// visitor-stats: count a page view from the portal's own server (docs/SERVER-SIDE.md).
// PHP 7.4 or later with the curl extension (Debian: apt-get install php-cli php-curl).
// Run by tests/system/test_server_side.py, so this file cannot drift from the API.

/**
 * Count the page view of the current request, and return the box's figures
 * (page_views, online, today, week, month, total), or null when the stats service did not
 * answer in time or refused the hit. The page never waits more than $timeout_ms for it.
 *
 * $key is the site's ingest key (`visitor-stats sites keys add SITE`): keep it in the server's
 * configuration, never in a page. Behind a reverse proxy, REMOTE_ADDR is the proxy: pass the
 * visitor's address as $client_ip (what the proxy put in X-Forwarded-For, as it vouches).
 */
function visitor_stats_count(
    string $api,
    string $key,
    string $site,
    ?string $client_ip = null,
    int $timeout_ms = 300
): ?array {
    $https = !empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off';
    $hit = [
        'site' => $site,
        'url' => ($https ? 'https://' : 'http://') . ($_SERVER['HTTP_HOST'] ?? $site)
            . ($_SERVER['REQUEST_URI'] ?? '/'),
        'client_ip' => $client_ip ?? ($_SERVER['REMOTE_ADDR'] ?? ''),
        'user_agent' => $_SERVER['HTTP_USER_AGENT'] ?? '',
    ];
    if (!empty($_SERVER['HTTP_REFERER'])) {
        $hit['referrer'] = $_SERVER['HTTP_REFERER'];
    }
    // A prefetch is not a view; a visitor who opted out is acknowledged, never counted.
    if (!empty($_SERVER['HTTP_SEC_PURPOSE'])) {
        $hit['purpose'] = $_SERVER['HTTP_SEC_PURPOSE'];
    }
    if (($_SERVER['HTTP_SEC_GPC'] ?? '') === '1' || ($_SERVER['HTTP_DNT'] ?? '') === '1') {
        $hit['opt_out'] = true;
    }
    $body = json_encode($hit, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_INVALID_UTF8_SUBSTITUTE);
    $curl = curl_init(rtrim($api, '/') . '/api/hit');
    curl_setopt_array($curl, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => ['Content-Type: application/json', 'Authorization: Bearer ' . $key],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_CONNECTTIMEOUT_MS => $timeout_ms,
        CURLOPT_TIMEOUT_MS => $timeout_ms,
        CURLOPT_NOSIGNAL => true, // millisecond timeouts without SIGALRM
    ]);
    $answer = curl_exec($curl);
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    if ($answer === false) {
        error_log('visitor-stats: no answer: ' . curl_error($curl));
        return null;
    }
    if ($status === 202) {
        return null; // the service's store is down: the hit is kept and counted later
    }
    if ($status !== 200) {
        // The answer's detail says what was wrong (a revoked key, a page of another site).
        error_log("visitor-stats: hit refused, HTTP $status: " . substr($answer, 0, 300));
        return null;
    }
    return json_decode($answer, true);
}

/** 48812107 -> "48.812.107", as the box prints it. */
function visitor_stats_format(int $n): string
{
    return number_format($n, 0, ',', '.');
}
