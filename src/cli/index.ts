import { Command } from 'commander';
import { registerImportCommand } from './import.command.js';

/** The `leadflow` command line. Each command reuses the service functions the API uses. */
export const program = new Command('leadflow').description('leadflow: lead capture, nurture and scoring');

registerImportCommand(program);

export async function runCli(argv: string[]): Promise<void> {
  await program.parseAsync(argv);
}
