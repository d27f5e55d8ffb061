// pm2 process file for TuneForge: a miner, a validator and an API replica.
//
//   cp env/miner.env.example env/miner.env          # and/or validator, api: edit wallets, ports, URLs
//   pm2 start ecosystem.config.js --only tuneforge-miner
//   pm2 logs tuneforge-miner                          # pm2 save && pm2 startup: start again at boot
//
// Each app runs `python -m tuneforge.launch ROLE --env-file env/ROLE.env`, which turns the file's
// TUNEFORGE_* settings into the role's own flags (tuneforge/launch.py) and becomes that process,
// so pm2's SIGINT reaches the neuron itself. The Python of ./.venv is used (scripts/demo.sh or
// scripts/test.sh create it); TUNEFORGE_PYTHON names another interpreter.
const path = require("path");

const root = __dirname;
const python = process.env.TUNEFORGE_PYTHON || path.join(root, ".venv", "bin", "python");

function app(role, name, options) {
  return Object.assign(
    {
      name,
      script: python,
      args: ["-m", "tuneforge.launch", role, "--env-file", path.join(root, "env", `${role}.env`)],
      interpreter: "none",
      cwd: root,
      autorestart: true,
      // A crash or a chain outage restarts with a growing delay; a bad flag (exit 2) does not.
      exp_backoff_restart_delay: 5000,
      max_restarts: 20,
      min_uptime: "60s",
      stop_exit_codes: [2],
      kill_timeout: 30000,
      time: true,
      env: {
        PYTHONUNBUFFERED: "1",
        HF_HUB_OFFLINE: "1",
        TRANSFORMERS_OFFLINE: "1",
      },
    },
    options || {},
  );
}

module.exports = {
  apps: [
    app("miner", "tuneforge-miner"),
    // The validator finishes its round and saves its state on SIGINT: allow it the time.
    app("validator", "tuneforge-validator", { kill_timeout: 90000 }),
    app("api", "tuneforge-api"),
  ],
};
