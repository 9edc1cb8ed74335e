"""HTTP edges shared by every stocksignal server: one JSON error shape, bearer tokens, binds.

For an aiohttp application (the storefront API, the processor's inspection API)::

    from stocksignal.web.exposure import check_exposure
    from stocksignal.web.server import check_port_free, secure, start_site

    digests = settings.token_digests("web_tokens_sha256")
    check_exposure("the inspection API", host, bool(digests), settings.allow_unauthenticated,
                   "STOCKSIGNAL_WEB_TOKENS_SHA256", "STOCKSIGNAL_ALLOW_UNAUTHENTICATED")
    check_port_free(host, port, "the inspection API")   # before anything else starts
    secure(app, digests)                                # JSON errors + bearer tokens
    runner = await start_site(app, host, port)          # JSON even for malformed HTTP
    ...
    await runner.cleanup()

Modules: :mod:`.errors` (the error shape, middleware, runner), :mod:`.tokens` (digests),
:mod:`.auth` (the bearer middleware), :mod:`.exposure` (loopback rule), :mod:`.server`,
:mod:`.metrics_server`. Nothing is imported here, so ``stocksignal.web.tokens`` stays cheap.
See docs/operations.md#http-security.
"""
