// The LLMCL extension: the grammar highlights, `llm-contracts lsp` does the rest.
//
// The language server runs as a child process over standard input and output; it is the
// same compiler and formatter as `llm-contracts check` and `llm-contracts fmt`.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("llmcl");
  const command = config.get("server.command", "llm-contracts");
  const args = ["lsp", ...config.get("server.args", [])];
  return { command, args, transport: TransportKind.stdio };
}

async function activate(context) {
  const clientOptions = {
    documentSelector: [{ language: "llmcl" }],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.llmcl") },
  };
  client = new LanguageClient("llmcl", "LLMCL language server", serverOptions(), clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("llmcl.server") && client) {
        await client.stop();
        client = new LanguageClient("llmcl", "LLMCL language server", serverOptions(), clientOptions);
        await client.start();
      }
    }),
  );
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `LLMCL: cannot start "${serverOptions().command} lsp" (${err.message || err}). ` +
      "Install it with: pip install 'llm-contracts[lsp]', or set llmcl.server.command.",
    );
  }
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };
