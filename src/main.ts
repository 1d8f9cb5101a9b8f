/**
 * The app's entry, `package.json` `main`: the stream setting, then every function's registration. The
 * build bundles this file and what it imports at load into one file (tools/bundle-app.ts), so a cold
 * start reads one module of the app's own instead of one per registration; each handler stays its own
 * module, loaded on the function's first invocation.
 */
import './index';
import './functions/actionableMessage';
import './functions/composeExtension';
import './functions/createExpense';
import './functions/getExpense';
import './functions/graphLifecycle';
import './functions/graphWebhook';
import './functions/health';
import './functions/maintainSubscriptions';
import './functions/outgoingWebhook';
import './functions/processNotifications';
import './functions/settingsPage';
import './functions/signinCallback';
import './functions/signinStart';
