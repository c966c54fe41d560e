/* Report drafts (草稿) kept on the phone in IndexedDB, photos included as Blobs, so a report made with no
   network survives a closed page and is sent later (report.js). One object store, keyed by the draft's
   idempotency key: the key every send of that report carries, so the server stores it once.
   gw.drafts.put(draft) / get(key) / all() / remove(key) return Promises. Where IndexedDB is missing (or
   refused, e.g. some private modes) drafts live in memory only and gw.drafts.persistent is false. */
(function () {
  'use strict';
  var gw = window.gw = window.gw || {};
  var DB = 'gridwatch-report', STORE = 'drafts', VERSION = 1;
  var memory = {};
  var opening = null;

  function open() {
    if (opening) return opening;
    opening = new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error('no IndexedDB')); return; }
      var req = window.indexedDB.open(DB, VERSION);
      req.onupgradeneeded = function () {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, {keyPath: 'key'});
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error || new Error('IndexedDB refused')); };
    });
    opening.catch(function () { drafts.persistent = false; });
    return opening;
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), store = tx.objectStore(STORE), result;
        work(store, function (value) { result = value; });
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = tx.onabort = function () { reject(tx.error || new Error('IndexedDB transaction failed')); };
      });
    });
  }

  function request(req, done) { req.onsuccess = function () { done(req.result); }; }

  var drafts = gw.drafts = {
    persistent: !!window.indexedDB,
    put: function (draft) {
      return run('readwrite', function (store) { store.put(draft); }).catch(function () {
        memory[draft.key] = draft;
      }).then(function () { return draft; });
    },
    get: function (key) {
      return run('readonly', function (store, done) { request(store.get(key), done); }).catch(function () {
        return memory[key];
      });
    },
    all: function () {
      return run('readonly', function (store, done) { request(store.getAll(), done); }).then(function (list) {
        return (list || []).concat(Object.keys(memory).map(function (k) { return memory[k]; }));
      }, function () { return Object.keys(memory).map(function (k) { return memory[k]; }); });
    },
    remove: function (key) {
      delete memory[key];
      return run('readwrite', function (store) { store.delete(key); }).catch(function () { return null; });
    },
    /* a v4 UUID: crypto.randomUUID where the page is a secure context, else the same from getRandomValues */
    newKey: function () {
      if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
      var b = window.crypto.getRandomValues(new Uint8Array(16)), h = [];
      b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
      for (var i = 0; i < 16; i++) h.push((b[i] + 0x100).toString(16).slice(1));
      return h.slice(0, 4).join('') + '-' + h.slice(4, 6).join('') + '-' + h.slice(6, 8).join('') + '-' +
        h.slice(8, 10).join('') + '-' + h.slice(10).join('');
    }
  };
}());
