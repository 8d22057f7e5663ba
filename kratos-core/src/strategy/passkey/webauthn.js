// WebAuthn and passkey helpers for the forms of kratos-rs (the functions Ory's UIs call).
(function () {
  "use strict"
  if (typeof window === "undefined" || window.__oryWebAuthnInitialized) {
    return
  }

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/")
    var raw = atob(b64)
    var out = new Uint8Array(raw.length)
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i)
    }
    return out
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer || new ArrayBuffer(0))
    var raw = ""
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i])
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
  }

  function decodeIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64url(c.id) })
    })
  }

  function requestOptions(opt) {
    var pk = Object.assign({}, opt.publicKey)
    pk.challenge = fromB64url(pk.challenge)
    if (pk.allowCredentials) {
      pk.allowCredentials = decodeIds(pk.allowCredentials)
    }
    return pk
  }

  function creationOptions(opt) {
    var pk = Object.assign({}, opt.publicKey)
    pk.challenge = fromB64url(pk.challenge)
    pk.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) })
    if (pk.excludeCredentials) {
      pk.excludeCredentials = decodeIds(pk.excludeCredentials)
    }
    return pk
  }

  function assertionJSON(c) {
    return JSON.stringify({
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      response: {
        authenticatorData: toB64url(c.response.authenticatorData),
        clientDataJSON: toB64url(c.response.clientDataJSON),
        signature: toB64url(c.response.signature),
        userHandle: toB64url(c.response.userHandle),
      },
    })
  }

  function attestationJSON(c) {
    return JSON.stringify({
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      response: {
        attestationObject: toB64url(c.response.attestationObject),
        clientDataJSON: toB64url(c.response.clientDataJSON),
      },
    })
  }

  function byName(name) {
    return document.getElementsByName(name)[0]
  }

  function submitWith(resultEl, value) {
    resultEl.value = value
    resultEl.closest("form").submit()
  }

  function webAuthnLogin(options, result, trigger) {
    var triggerEl = document.querySelector(trigger || '*[name="webauthn_login_trigger"]')
    var opt = options || JSON.parse(triggerEl.value)
    navigator.credentials.get({ publicKey: requestOptions(opt) }).then(function (c) {
      submitWith(document.querySelector(result || '*[name="webauthn_login"]'), assertionJSON(c))
    }, function (err) {
      alert(err)
    })
  }

  function webAuthnRegistration(options, result, trigger) {
    var triggerEl = document.querySelector(trigger || '*[name="webauthn_register_trigger"]')
    var opt = options || JSON.parse(triggerEl.value)
    navigator.credentials.create({ publicKey: creationOptions(opt) }).then(function (c) {
      submitWith(document.querySelector(result || '*[name="webauthn_register"]'), attestationJSON(c))
    }, function (err) {
      alert(err)
    })
  }

  function abortConditional() {
    if (window.abortPasskeyConditionalUI) {
      window.abortPasskeyConditionalUI.abort("A passkey login was started.")
      window.abortPasskeyConditionalUI = undefined
    }
  }

  function passkeyLoginAutocompleteInit() {
    var dataEl = byName("passkey_challenge")
    var resultEl = byName("passkey_login")
    if (!dataEl || !resultEl || !byName("identifier")) {
      return Promise.resolve()
    }
    if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) {
      return Promise.resolve()
    }
    return PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) {
        return
      }
      abortConditional()
      window.abortPasskeyConditionalUI = new AbortController()
      return navigator.credentials.get({
        publicKey: requestOptions(JSON.parse(dataEl.value)),
        mediation: "conditional",
        signal: window.abortPasskeyConditionalUI.signal,
      }).then(function (c) {
        submitWith(resultEl, assertionJSON(c))
      }, function (err) {
        console.log(err)
      })
    })
  }

  function passkeyLogin() {
    var dataEl = byName("passkey_challenge")
    var resultEl = byName("passkey_login")
    if (!dataEl || !resultEl || !window.PublicKeyCredential) {
      return
    }
    abortConditional()
    navigator.credentials.get({ publicKey: requestOptions(JSON.parse(dataEl.value)) }).then(function (c) {
      submitWith(resultEl, assertionJSON(c))
    }, function (err) {
      console.error(err)
      return passkeyLoginAutocompleteInit()
    })
  }

  function displayName(form, data) {
    var names = Array.isArray(data.displayNameFieldNames) && data.displayNameFieldNames.length
      ? data.displayNameFieldNames
      : [data.displayNameFieldName]
    for (var i = 0; i < names.length; i++) {
      var el = names[i] && form.querySelector("[name='" + names[i] + "']")
      if (el && el.value) {
        return el.value
      }
    }
    return ""
  }

  function passkeyRegistration() {
    var dataEl = byName("passkey_create_data")
    var resultEl = byName("passkey_register")
    if (!dataEl || !resultEl) {
      return
    }
    var data = JSON.parse(dataEl.value)
    var name = displayName(dataEl.closest("form"), data)
    var pk = creationOptions(data.credentialOptions)
    pk.user.name = name
    pk.user.displayName = name
    navigator.credentials.create({ publicKey: pk }).then(function (c) {
      submitWith(resultEl, attestationJSON(c))
    }, function (err) {
      console.error(err)
    })
  }

  function passkeySettingsRegistration() {
    var dataEl = byName("passkey_create_data")
    var resultEl = byName("passkey_settings_register")
    if (!dataEl || !resultEl) {
      return
    }
    var opt = JSON.parse(dataEl.value)
    navigator.credentials.create({ publicKey: creationOptions(opt) }).then(function (c) {
      submitWith(resultEl, attestationJSON(c))
    }, function (err) {
      console.error(err)
    })
  }

  var api = {
    oryWebAuthnLogin: webAuthnLogin,
    oryWebAuthnRegistration: webAuthnRegistration,
    oryPasskeyLogin: passkeyLogin,
    oryPasskeyLoginAutocompleteInit: passkeyLoginAutocompleteInit,
    oryPasskeyRegistration: passkeyRegistration,
    oryPasskeySettingsRegistration: passkeySettingsRegistration,
  }
  Object.keys(api).forEach(function (name) {
    window[name] = api[name]
    window["__" + name] = api[name]
  })
  window.__oryWebAuthnInitialized = true
  window.dispatchEvent(new CustomEvent("oryWebAuthnInitialized"))
})()
